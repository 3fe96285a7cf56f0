"""`delivered_items` partitioned by month on item id ranges (PostgreSQL; storage/partitions.py,
migration 0010): each item once per chat across months, the month's split moving no row, whole
old months dropped by retention, two instances splitting at once. SQLite keeps one table: its
runs check that retention reports no partitions there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from delivery.retention import run_retention
from runtime import App
from storage import partitions
from storage.dialect import upsert_insert
from storage.models import DeliveredItem
from storage.sizes import table_sizes
from tests.delivery_support import add_chat, add_item, add_source, memory_app
from tests.waiting import wait_for

DAY = timedelta(days=1)
# Before any month a test moves to: the migration named its open partition by the real date.
EARLY = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def papp(db_url: str) -> AsyncIterator[App]:
    app = memory_app(db_url, EARLY, retention_batch_size=100)
    yield app
    await app.close()


@pytest.fixture
async def pg_app(papp: App) -> App:
    """`papp`, for the tests that have nothing to check on SQLite."""
    if not await _pg(papp):
        pytest.skip("PostgreSQL partitions")
    return papp


def _at(app: App, moment: datetime) -> None:
    app.clock.now = moment  # type: ignore[attr-defined]


async def _pg(app: App) -> bool:
    async with app.sessions() as session:
        return session.get_bind().dialect.name == "postgresql"


async def _first_month(app: App) -> datetime:
    """Noon on the 1st of the month after the open partition's (the migration's month)."""
    async with app.sessions() as session:
        found = await partitions.partitions(session)
    year, month = (int(part) for part in found[-1].name.rsplit("_", 2)[1:])
    return datetime(year + month // 12, month % 12 + 1, 1, 12, tzinfo=UTC)


async def _to_first_month(app: App) -> datetime:
    """The app's clock moved to `_first_month`, which is returned."""
    first = await _first_month(app)
    _at(app, first)
    return first


def _month_after(moment: datetime) -> datetime:
    return (moment.replace(day=1) + 32 * DAY).replace(day=1)


async def _split(app: App) -> str | None:
    async with app.sessions() as session, session.begin():
        return await partitions.split_month(session, app.clock())


async def _items(app: App, count: int, fetched: datetime) -> list[int]:
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        ids = [await add_item(session, src, f"Tin {n}", fetched_at=fetched) for n in range(count)]
        await session.execute(text("UPDATE items SET matched_at = fetched_at"))
    return ids


async def _give(app: App, chat: int, item_ids: list[int], at: datetime) -> None:
    """What the sender does: each (chat, item) inserted, a second time skipped."""
    async with app.sessions() as session, session.begin():
        await session.execute(upsert_insert(session, DeliveredItem).on_conflict_do_nothing(),
                              [{"chat_id": chat, "item_id": i, "created_at": at}
                               for i in item_ids])


async def _where(app: App) -> dict[int, str]:
    """item id -> the partition its row is in."""
    async with app.sessions() as session:
        rows = await session.execute(text(
            "SELECT item_id, tableoid::regclass::text FROM delivered_items"))
        return {int(item): str(part) for item, part in rows}


async def _contiguous(app: App) -> list[partitions.Partition]:
    """The layout, checked: one range after the other, the last one open."""
    async with app.sessions() as session:
        found = await partitions.partitions(session)
    for before, after in zip(found, found[1:], strict=False):
        assert before.upper == after.lower, found
    assert found[-1].upper is None and all(p.upper is not None for p in found[:-1]), found
    return found


async def test_the_migration_partitions_delivered_items_by_item_id(papp: App) -> None:
    if not await _pg(papp):
        async with papp.sessions() as session:
            assert await partitions.partitions(session) == []  # SQLite: not partitioned
        return
    found = await _contiguous(papp)
    assert [p.name for p in found] == [partitions.INITIAL, found[-1].name]
    assert found[0].lower is None and found[-1].name.startswith("delivered_items_20")
    async with papp.sessions() as session:
        kind = await session.scalar(text(
            "SELECT relkind FROM pg_class WHERE relname = 'delivered_items'"))
        assert kind == "p"


async def test_the_same_item_is_one_row_across_months(pg_app: App) -> None:
    first = await _to_first_month(pg_app)
    await _split(pg_app)
    async with pg_app.sessions() as session, session.begin():
        chat = await add_chat(session, 701, channel="memory")
    old = await _items(pg_app, 2, first)
    await _give(pg_app, chat, old, first)
    _at(pg_app, _month_after(first))
    assert await _split(pg_app) == partitions.month_name(pg_app.clock())
    # Given again (a digest queued again, a second sender): still one row, in its month.
    await _give(pg_app, chat, old, pg_app.clock())
    new = await _items(pg_app, 1, pg_app.clock())
    await _give(pg_app, chat, new + new, pg_app.clock())
    async with pg_app.sessions() as session:
        rows = (await session.execute(
            select(DeliveredItem.item_id, func.count()).group_by(DeliveredItem.item_id))).all()
    assert sorted(rows) == [(old[0], 1), (old[1], 1), (new[0], 1)]
    where = await _where(pg_app)
    assert {where[i] for i in old} == {partitions.month_name(first)}
    assert where[new[0]] == partitions.month_name(pg_app.clock())


async def test_the_month_split_moves_nothing_and_new_items_land_in_the_new_month(
        papp: App) -> None:
    if not await _pg(papp):
        async with papp.sessions() as session, session.begin():
            assert await partitions.split_month(session, EARLY) is None
        return
    first = await _to_first_month(papp)
    # The migration's open partition holds no item yet: it takes the month's name.
    assert await _split(papp) == partitions.month_name(first)
    async with papp.sessions() as session, session.begin():
        chat = await add_chat(session, 702, channel="memory")
    old = await _items(papp, 3, first)
    await _give(papp, chat, old, first)
    before = await _where(papp)
    assert await _split(papp) is None  # the same month: nothing to do
    _at(papp, _month_after(first) + 3 * DAY)
    assert await _split(papp) == partitions.month_name(papp.clock())
    assert await _split(papp) is None  # once a month
    assert await _where(papp) == before  # no row moved
    found = await _contiguous(papp)
    closed = next(p for p in found if p.name == partitions.month_name(first))
    assert closed.upper == max(old) + 1
    new = await _items(papp, 2, papp.clock())
    await _give(papp, chat, new, papp.clock())
    where = await _where(papp)
    assert {where[i] for i in new} == {partitions.month_name(papp.clock())}
    async with papp.sessions() as session:  # /stats counts the partitions' rows and pages
        size = next(s for s in await table_sizes(session) if s.name == "delivered_items")
    assert size.rows == 5 and size.bytes > 0


async def test_retention_drops_a_past_months_partition_and_keeps_the_current_one(
        papp: App) -> None:
    if not await _pg(papp):
        report = await run_retention(papp)
        assert (report.partitions_dropped, report.partition_opened) == ((), None)
        return
    first = await _to_first_month(papp)
    await run_retention(papp)  # opens the first month's partition
    async with papp.sessions() as session, session.begin():
        chat = await add_chat(session, 703, channel="memory")
    early = await _items(papp, 2, first)
    late = await _items(papp, 1, first + 10 * DAY)
    await _give(papp, chat, early, first)
    await _give(papp, chat, late, first + 10 * DAY)
    month = partitions.month_name(first)

    # 40 days on: the new month's partition opens; the first month's has an item fetched
    # since the cutoff (35 days ago), so it stays, and the older rows go by the batched delete.
    _at(papp, first + 40 * DAY)
    report = await run_retention(papp)
    assert report.partition_opened == partitions.month_name(papp.clock())
    assert month not in report.partitions_dropped
    assert report.delivered_items == 2 and set(await _where(papp)) == set(late)
    current = await _items(papp, 1, papp.clock())
    await _give(papp, chat, current, papp.clock())

    # 50 days on: every item of the first month was fetched before the cutoff: its partition
    # goes whole; the current month's stays, with its row.
    _at(papp, first + 50 * DAY)
    report = await run_retention(papp)
    assert month in report.partitions_dropped and report.partition_opened is None
    assert report.delivered_items == 0
    assert await _where(papp) == {current[0]: partitions.month_name(first + 40 * DAY)}
    found = await _contiguous(papp)
    assert month not in {p.name for p in found}
    assert found[-1].name == partitions.month_name(first + 40 * DAY)
    # What the chat was given of the current month still keeps the item from coming twice.
    await _give(papp, chat, current, papp.clock())
    assert len(await _where(papp)) == 1


async def test_an_unmatched_item_keeps_its_months_partition(pg_app: App) -> None:
    """The start-up catch-up may still queue an item stored but never matched."""
    first = await _to_first_month(pg_app)
    await run_retention(pg_app)
    async with pg_app.sessions() as session, session.begin():
        src = await add_source(session)
        await add_item(session, src, "Chưa khớp", fetched_at=first)  # matched_at NULL
    _at(pg_app, first + 90 * DAY)
    report = await run_retention(pg_app)
    assert report.partition_opened is not None
    assert partitions.month_name(first) not in report.partitions_dropped


async def test_a_second_instance_splitting_at_once_does_no_harm(db_url: str) -> None:
    one = memory_app(db_url, EARLY)
    two = memory_app(db_url, EARLY)
    try:
        if not await _pg(one):
            pytest.skip("PostgreSQL partitions")
        first = _month_after(await _first_month(one))
        _at(one, first)
        _at(two, first)
        async with one.sessions() as session, session.begin():
            chat = await add_chat(session, 704, channel="memory")
        old = await _items(one, 2, first)
        await _give(one, chat, old, first)
        # The first instance splits and has not committed; the second starts its own split,
        # which waits for the first's locks, then finds the month's partition there.
        async with one.sessions() as session:
            async with session.begin():
                assert await partitions.split_month(session, first) == \
                    partitions.month_name(first)
                second = asyncio.ensure_future(_split(two))

                async def waiting() -> bool:
                    async with one.sessions() as probe:
                        return bool(await probe.scalar(text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                            " current_database() AND wait_event_type = 'Lock'")))

                await wait_for(waiting)
            assert await second is None
        found = await _contiguous(one)
        assert [p.name for p in found].count(partitions.month_name(first)) == 1
        # And both at once, a month later: one opens the month's partition, the other nothing.
        for app in (one, two):
            _at(app, _month_after(first))
        new = await _items(one, 1, _month_after(first) - DAY)
        await _give(one, chat, new, _month_after(first) - DAY)
        results = await asyncio.gather(_split(one), _split(two))
        assert sorted(results, key=str) == [None, partitions.month_name(_month_after(first))]
        await _contiguous(one)
        assert set(await _where(one)) == set(old + new)
    finally:
        await one.close()
        await two.close()


async def test_a_split_that_cannot_have_its_locks_waits_for_tomorrow(
        pg_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction holding `delivered_items` past the lock timeout: the split gives up, the
    batched deletes still run, and the next run splits."""
    monkeypatch.setattr(partitions, "LOCK_TIMEOUT", "50ms")
    first = await _to_first_month(pg_app)
    async with pg_app.sessions() as session, session.begin():
        chat = await add_chat(session, 705, channel="memory")
    old = await _items(pg_app, 2, first - 60 * DAY)
    await _give(pg_app, chat, old, first - 60 * DAY)
    async with pg_app.sessions() as busy, busy.begin():
        await busy.execute(text("LOCK TABLE delivered_items IN ROW EXCLUSIVE MODE"))
        report = await run_retention(pg_app)
    assert report.partition_opened is None and report.delivered_items == 2
    report = await run_retention(pg_app)
    assert report.partition_opened == partitions.month_name(first)
