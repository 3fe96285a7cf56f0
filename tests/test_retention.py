"""Retention (delivery.retention) on both engines, through the real job on a FakeClock: what is
deleted, what digests and the once-per-chat rule still need and keep, items archived, and the
job on the delivery scheduler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from delivery.match import on_new_items
from delivery.retention import run_retention
from delivery.service import RETENTION_JOB, start_delivery
from model.enums import DeliveryKind, OutboxState
from runtime import App
from storage.models import DeliveredItem, Delivery, Item, ItemProvince
from tests.conftest import count_rows
from tests.delivery_support import (
    MemoryChannel,
    add_chat,
    add_item,
    add_source,
    add_sub,
    given,
    memory_app,
    run_until_idle,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = timedelta(days=1)
START = datetime(2026, 9, 14, 9, 0, tzinfo=TZ)  # a Monday


async def _app(db_url: str, **settings: object) -> App:
    return memory_app(db_url, START, **settings)


@pytest.fixture
async def rapp(db_url: str) -> AsyncIterator[App]:
    app = await _app(db_url, retention_batch_size=100)
    yield app
    await app.close()


def _at(app: App, moment: datetime) -> None:
    app.clock.now = moment  # type: ignore[attr-defined]


async def test_finished_rows_and_what_they_gave_go_in_batches_open_rows_stay(rapp: App) -> None:
    async with rapp.sessions() as session, session.begin():
        src = await add_source(session)
        chat = await add_chat(session, 601, channel="memory")
        await add_sub(session, chat, provinces=["46"])
        item = await add_item(session, src, "Tin Huế", provinces=["46"], fetched_at=START)
        # A backlog of 250 finished digests, each with what it gave: three batches of 100.
        old = [await add_item(session, src, f"Tin cũ {n}", provinces=["46"],
                              fetched_at=START - DAY) for n in range(250)]
        for n, item_id in enumerate(old):
            state = (OutboxState.SENT, OutboxState.CANCELLED, OutboxState.FAILED)[n % 3]
            session.add(Delivery(chat_id=chat, kind=DeliveryKind.DIGEST, lane=1,
                                 dedup_key=f"old:{n}", payload={}, due_at=START - DAY,
                                 state=state, created_at=START - DAY))
            session.add(DeliveredItem(chat_id=chat, item_id=item_id, created_at=START - DAY))
    await on_new_items(rapp, [item])
    await run_until_idle(rapp)
    assert (chat, item) in await given(rapp)

    _at(rapp, START + 30 * DAY)
    report = await run_retention(rapp)
    # 30 days on, still inside the reach of a digest window (28 days back from a due time up
    # to a week past): only the sent alert goes, and what it gave stays.
    assert (report.deliveries, report.delivered_items) == (1, 0)
    assert report.cutoff == START + 30 * DAY - 7 * DAY - 28 * DAY
    assert (chat, item) in await given(rapp)

    _at(rapp, START + 35 * DAY + timedelta(hours=1))
    report = await run_retention(rapp)
    assert (report.deliveries, report.delivered_items) == (250, 251)
    assert await count_rows(rapp, Delivery) == 0 and await given(rapp) == set()
    assert await count_rows(rapp, Item) == 251  # items are kept (ITEM_ARCHIVE_DAYS=0)


async def test_an_open_row_keeps_what_its_window_may_need(rapp: App) -> None:
    async with rapp.sessions() as session, session.begin():
        chat = await add_chat(session, 602, channel="memory")
        offline = await add_chat(session, 603, channel="zalo")  # no Zalo here: it stays pending
        for n, (where, state) in enumerate([(chat, OutboxState.SENT),
                                            (offline, OutboxState.PENDING)]):
            session.add(Delivery(chat_id=where, kind=DeliveryKind.DIGEST, lane=1,
                                 dedup_key=f"digest:daily:{where}:7:0:{n}", payload={},
                                 due_at=START + n * DAY, state=state))
    _at(rapp, START + 90 * DAY)
    report = await run_retention(rapp)
    assert report.deliveries == 0 and report.cutoff == START + DAY - 28 * DAY
    assert await count_rows(rapp, Delivery) == 2


async def test_sent_daily_and_held_digests_go_by_their_own_reach(rapp: App) -> None:
    """A sent daily or held digest is read only by the chat's next digest of that mode, at
    most 7 days back from a due time up to a week past: it goes after 14 days, while a weekly
    one, a failed daily one and what they gave stay until the cutoff."""
    async with rapp.sessions() as session, session.begin():
        src = await add_source(session)
        chat = await add_chat(session, 606, channel="memory")
        item = await add_item(session, src, "Tin trong bản tin", provinces=["46"],
                              fetched_at=START - DAY)
        for key, state in [("digest:daily:606:7:0:a", OutboxState.SENT),
                           ("digest:held:606:7:0:a", OutboxState.SENT),
                           ("digest:weekly:606:7:0:a", OutboxState.SENT),
                           ("digest:daily:606:7:0:b", OutboxState.FAILED)]:
            session.add(Delivery(chat_id=chat, kind=DeliveryKind.DIGEST, lane=1, dedup_key=key,
                                 payload={}, due_at=START, state=state))
        session.add(DeliveredItem(chat_id=chat, item_id=item, created_at=START))

    _at(rapp, START + 14 * DAY - timedelta(hours=1))
    assert (await run_retention(rapp)).deliveries == 0
    _at(rapp, START + 14 * DAY + timedelta(hours=1))
    report = await run_retention(rapp)
    assert (report.deliveries, report.delivered_items) == (2, 0)
    async with rapp.sessions() as session:
        assert set(await session.scalars(select(Delivery.dedup_key))) == {
            "digest:weekly:606:7:0:a", "digest:daily:606:7:0:b"}
    assert (chat, item) in await given(rapp)


async def test_what_a_chat_was_given_keeps_it_from_a_late_weekly_digest(db_url: str) -> None:
    """A weekly digest created after weeks of downtime reaches back to the chat's previous
    digest: an item the chat was given in between stays out of it, even when retention ran with
    RETENTION_DAYS=1 meanwhile; once no window can reach them, the rows go."""
    app = await _app(db_url, retention_days=1)
    monday7 = START.replace(hour=7)
    try:
        async with app.sessions() as session, session.begin():
            src = await add_source(session)
            chat = await add_chat(session, 604, channel="memory")
            await add_sub(session, chat, provinces=["46"], created_at=monday7 - 30 * DAY)
            await add_sub(session, chat, provinces=["46"], mode="weekly", hour=7, weekday=0,
                          created_at=monday7 - 30 * DAY)
            first = await add_item(session, src, "Tin tuần đầu", provinces=["46"],
                                   fetched_at=monday7 - DAY)
        _at(app, monday7 + timedelta(seconds=30))
        await run_until_idle(app)  # the weekly digest of the 14th carries the first item
        memory: MemoryChannel = app.channels["memory"]  # type: ignore[assignment]
        assert "Tin tuần đầu" in "".join(memory.texts_for(604))

        # The next day an alert gives the chat another item; then the bot is down for three
        # weeks, and the two Mondays' digests in between never go out.
        async with app.sessions() as session, session.begin():
            alerted = await add_item(session, src, "Tin đã báo ngay", provinces=["46"],
                                     fetched_at=monday7 + DAY)
            later = await add_item(session, src, "Tin chưa ai báo", provinces=["46"],
                                   fetched_at=monday7 + 20 * DAY)
        _at(app, monday7 + DAY)
        await on_new_items(app, [alerted])
        await run_until_idle(app)
        assert (chat, alerted) in await given(app)

        back = monday7 + 21 * DAY + timedelta(hours=2)  # Monday 9:00, three weeks on
        _at(app, back)
        report = await run_retention(app)
        # The alert, sent three weeks ago, goes; the digest of the 14th stays: today's digest
        # will reach back to it.
        assert report.deliveries == 1 and await count_rows(app, Delivery) == 1
        await run_until_idle(app)
        texts = memory.texts_for(604)
        assert len(texts) == 3
        assert "Tin chưa ai báo" in texts[-1] and "Tin đã báo ngay" not in texts[-1]
        assert {(chat, first), (chat, alerted), (chat, later)} == await given(app)

        _at(app, back + 40 * DAY)
        report = await run_retention(app)
        assert report.deliveries == 2 and await given(app) == set()
    finally:
        await app.close()


async def test_a_sent_alert_goes_after_a_day_and_its_item_never_comes_again(rapp: App) -> None:
    """A sent instant row is deleted the day after; what it gave stays until the cutoff, so the
    item matched again is not sent again. A failed alert stays until the cutoff."""
    async with rapp.sessions() as session, session.begin():
        src = await add_source(session)
        chat = await add_chat(session, 605, channel="memory")
        await add_sub(session, chat, provinces=["46"])
        item = await add_item(session, src, "Tin báo ngay", provinces=["46"], fetched_at=START)
        session.add(Delivery(chat_id=chat, kind=DeliveryKind.INSTANT, lane=0,
                             dedup_key="instant:failed", payload={}, due_at=START - DAY,
                             state=OutboxState.FAILED))
    await on_new_items(rapp, [item])
    await run_until_idle(rapp)
    memory: MemoryChannel = rapp.channels["memory"]  # type: ignore[assignment]
    assert len(memory.texts_for(605)) == 1
    async with rapp.sessions() as session:
        sent = (await session.scalars(select(Delivery).where(
            Delivery.state == OutboxState.SENT))).one()
        assert sent.payload == {}  # what it gave is in delivered_items

    _at(rapp, START + timedelta(hours=23))
    assert (await run_retention(rapp)).deliveries == 0  # not a day yet
    _at(rapp, START + DAY + timedelta(hours=1))
    report = await run_retention(rapp)
    assert (report.deliveries, report.delivered_items) == (1, 0)
    async with rapp.sessions() as session:
        assert list(await session.scalars(select(Delivery.state))) == [OutboxState.FAILED]
    assert (chat, item) in await given(rapp)

    # Matched again (a re-run, a reclassification): queued, resolved to nothing, not sent.
    async with rapp.sessions() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item).values(matched_at=None))
    await on_new_items(rapp, [item])
    await run_until_idle(rapp)
    assert len(memory.texts_for(605)) == 1
    async with rapp.sessions() as session:
        assert (await session.scalars(select(Delivery.last_error).where(
            Delivery.state == OutboxState.CANCELLED))).one() == "empty: nothing to send"


async def test_items_archived_after_item_archive_days(db_url: str) -> None:
    app = await _app(db_url, item_archive_days=365)
    try:
        async with app.sessions() as session, session.begin():
            src = await add_source(session)
            old = await add_item(session, src, "Tin năm ngoái", provinces=["46"],
                                 fetched_at=START - 400 * DAY)
            kept = await add_item(session, src, "Tin tháng trước", provinces=["46"],
                                  fetched_at=START - 30 * DAY)
            copy = await add_item(session, src, "Bản đăng lại", provinces=["46"],
                                  fetched_at=START - 30 * DAY, duplicate_of=old)
        report = await run_retention(app)
        assert report.items == 1
        async with app.sessions() as session:
            assert set(await session.scalars(select(Item.id))) == {kept, copy}
            assert set(await session.scalars(select(ItemProvince.item_id))) == {kept, copy}
            assert await session.scalar(select(Item.duplicate_of).where(Item.id == copy)) is None
    finally:
        await app.close()


async def test_retention_is_a_daily_job_on_the_delivery_scheduler(rapp: App) -> None:
    service = await start_delivery(rapp)
    try:
        job = service.jobs.get_job(RETENTION_JOB)
        assert job is not None
        nxt = job.next_run_time.astimezone(TZ)
        assert (nxt.hour, nxt.minute) == (rapp.settings.retention_hour, 30)
    finally:
        await service.stop()
