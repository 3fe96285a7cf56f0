"""Digests: due times in Asia/Ho_Chi_Minh, windows, once per period, catch-up, empty ones,
officials' reports with their chart, resuming a long digest after the last confirmed part."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from delivery.digests import Schedule, last_due
from model.channel import Outcome, Status
from runtime import App, open_app
from storage.models import Delivery
from tests.delivery_support import (
    T0,
    MemoryChannel,
    add_chat,
    add_item,
    add_source,
    add_sub,
    delivery_settings,
    run_until_idle,
)
from tests.fakes.clock import FakeClock

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = timedelta(days=1)


@pytest.fixture
async def dapp(db_url: str) -> AsyncIterator[App]:
    app = open_app(delivery_settings(db_url))
    app.channels = {"memory": MemoryChannel()}
    app.clock = FakeClock(T0 + timedelta(seconds=30))  # Monday 07:00:30 in Hà Nội
    yield app
    await app.close()


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=TZ)


def test_due_times_are_local() -> None:
    daily7 = Schedule("news", "daily", 7, 0)
    assert last_due(daily7, local(14, 6, 59), TZ) == local(13, 7)
    assert last_due(daily7, local(14, 7, 0), TZ) == local(14, 7)
    assert last_due(daily7, local(14, 23, 59), TZ) == local(14, 7)
    friday20 = Schedule("news", "weekly", 20, 4)
    assert last_due(friday20, local(16, 12), TZ) == local(11, 20)  # Wednesday → last Friday
    assert last_due(friday20, local(18, 20, 1), TZ) == local(18, 20)


async def _texts(app: App, key: int) -> list[str]:
    return app.channels["memory"].texts_for(key)  # type: ignore[attr-defined]


async def test_daily_digest_once_per_period_with_its_window(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        await add_item(session, src, "Tin hôm qua ở Huế", provinces=["46"],
                       fetched_at=local(13, 8))
        await add_item(session, src, "Tin sáng nay ở Huế", provinces=["46"],
                       fetched_at=local(14, 6, 30))
        await add_item(session, src, "Tin sau giờ bản tin", provinces=["46"],
                       fetched_at=local(14, 7, 30))
        await add_item(session, src, "Tin ở Hà Nội", provinces=["01"], fetched_at=local(14, 6))
        chat = await add_chat(session, 501, channel="memory")
        await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
    dapp.clock.now = local(14, 7, 0) + timedelta(seconds=30)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    [digest] = await _texts(dapp, 501)
    assert digest.startswith("📰 <b>Bản tin ngày 14/09/2026</b>: 2 tin")
    assert "Tin hôm qua" in digest and "Tin sáng nay" in digest
    assert "sau giờ" not in digest and "Hà Nội" not in digest
    assert digest.index("Tin sáng nay") < digest.index("Tin hôm qua")  # newest first

    await run_until_idle(dapp)  # a restart in the same period sends nothing more
    assert len(await _texts(dapp, 501)) == 1

    dapp.clock.now = local(15, 7, 0) + timedelta(seconds=5)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    assert len(await _texts(dapp, 501)) == 2
    tomorrow = (await _texts(dapp, 501))[1]
    assert "Tin sau giờ bản tin" in tomorrow and "Tin sáng nay" not in tomorrow


async def test_chats_with_the_same_digest_share_one_rendering_forgotten_when_idle(
        dapp: App) -> None:
    from delivery.service import start_delivery
    from tests.waiting import wait_for

    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        await add_item(session, src, "Tin sáng nay ở Huế", provinces=["46"],
                       fetched_at=local(14, 6, 30))
        for n in range(3):
            chat = await add_chat(session, 600 + n, channel="memory")
            await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
    dapp.clock.now = local(14, 7, 0) + timedelta(seconds=30)  # type: ignore[attr-defined]
    service = await start_delivery(dapp)
    try:
        await wait_for(service.idle)
        texts = [await _texts(dapp, 600 + n) for n in range(3)]
        assert texts[0] == texts[1] == texts[2] and len(texts[0]) == 1
        sender = service.senders["memory"]
        await wait_for(lambda: len(sender.rendered) == 0)  # the run is over
    finally:
        await service.stop()


async def test_item_stored_after_its_digest_went_out_comes_in_the_next_one(dapp: App) -> None:
    """A poll that began at 06:59:50 stamps its items 06:59:50, and stores them after the 07:00
    digest took its items: they come in the next digest, and what came already does not."""
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        chat = await add_chat(session, 504, channel="memory")
        await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
        await add_item(session, src, "Tin sớm ở Huế", provinces=["46"], fetched_at=local(14, 6))
    dapp.clock.now = local(14, 7, 0) + timedelta(seconds=30)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    async with dapp.sessions() as session, session.begin():
        await add_item(session, src, "Tin về muộn ở Huế", provinces=["46"],
                       fetched_at=local(14, 6, 59) + timedelta(seconds=50))
    dapp.clock.now = local(15, 7, 0) + timedelta(seconds=30)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    first, second = await _texts(dapp, 504)
    assert "Tin sớm" in first and "muộn" not in first
    assert "Tin về muộn" in second and "Tin sớm" not in second


async def test_missed_digest_is_sent_once_at_start_up_with_everything_since(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        chat = await add_chat(session, 502, channel="memory")
        await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
        for day in (14, 15, 16):
            await add_item(session, src, f"Tin ngày {day}", provinces=["46"],
                           fetched_at=local(day, 12))
    dapp.clock.now = local(15, 7, 1)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    assert len(await _texts(dapp, 502)) == 1
    # Down from the 15th at 7:01 until the 18th at 9:00: three digests fell due meanwhile.
    dapp.clock.now = local(18, 9)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    await run_until_idle(dapp)
    texts = await _texts(dapp, 502)
    assert len(texts) == 2
    assert "Tin ngày 15" in texts[1] and "Tin ngày 16" in texts[1]
    assert "Tin ngày 14" not in texts[1]


async def test_empty_digest_is_not_sent_and_leaves_no_row(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        chat = await add_chat(session, 503, channel="memory")
        await add_sub(session, chat, provinces=["46"], mode="weekly", hour=7, weekday=0)
        await add_sub(session, chat, provinces=["46"], mode="daily", hour=7, kind="report")
    await run_until_idle(dapp)
    assert await _texts(dapp, 503) == []
    async with dapp.sessions() as session:
        assert (await session.execute(select(Delivery.id))).all() == []


async def test_weekly_digest_on_its_day_and_split_for_zalo_sized_messages(db_url: str) -> None:
    app = open_app(delivery_settings(db_url))
    app.channels = {"memory": MemoryChannel(max_units=2000)}
    app.clock = FakeClock(local(18, 20, 0) + timedelta(seconds=2))  # Friday 20:00
    try:
        async with app.sessions() as session, session.begin():
            src = await add_source(session)
            for n in range(30):
                await add_item(session, src, f"Tin tuần số {n} về bầu cử 🗳️", "chi tiết " * 25,
                               provinces=["46" if n % 2 else "48"], topics=["bau-cu"],
                               fetched_at=local(14 + n % 4, 9, n))
            chat = await add_chat(session, 504, channel="memory", lang="en")
            await add_sub(session, chat, topics=["bau-cu"], mode="weekly", hour=20, weekday=4)
            other = await add_chat(session, 505, channel="memory")
            await add_sub(session, other, topics=["bau-cu"], mode="weekly", hour=20, weekday=3)
        await run_until_idle(app)
        parts = app.channels["memory"].texts_for(504)  # type: ignore[attr-defined]
        assert len(parts) > 1 and all(len(p.encode("utf-16-le")) // 2 <= 2000 for p in parts)
        assert parts[0].startswith("📰 <b>Weekly digest 11/09 – 18/09/2026</b>: 30 items")
        assert sum(p.count("Tin tuần số") for p in parts) == 30
        # Thursday's subscriber got Thursday's digest (items fetched before Thursday 20:00).
        thursday = app.channels["memory"].texts_for(505)  # type: ignore[attr-defined]
        assert thursday and "Tin tuần số 3 " in "".join(thursday)
    finally:
        await app.close()


async def test_official_report_has_counts_and_a_chart(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        for n, topic in enumerate(["bau-cu", "bau-cu", "dai-hoi-mttq", None]):
            await add_item(session, src, f"Tin Huế {n}", provinces=["46"],
                           topics=[topic] if topic else [], published_at=local(13, 9 + n))
        await add_item(session, src, "Tin Đà Nẵng", provinces=["48"], published_at=local(13, 9))
        chat = await add_chat(session, 506, channel="memory")
        await add_sub(session, chat, provinces=["46"], mode="daily", hour=7, kind="report")
    await run_until_idle(dapp)
    sent = dapp.channels["memory"].sent  # type: ignore[attr-defined]
    assert {key for key, _ in sent} == {"506"} and len(sent) >= 2
    first, photo = sent[0][1], sent[1][1]
    assert first.text.startswith("📊 <b>Báo cáo 13/09/2026 – 14/09/2026</b> · Huế: 4 tin")
    assert "Bầu cử" in first.text and "<b>2</b>" in first.text
    assert "Tin Đà Nẵng" not in "".join(m.text for _, m in sent)
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")


async def test_a_long_digest_resumes_after_the_last_confirmed_part(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        for n in range(40):
            await add_item(session, src, f"Tin dài số {n} " + "chữ " * 60, "tóm tắt " * 40,
                           provinces=["46"], fetched_at=local(14, 6, n))
        chat = await add_chat(session, 507, channel="memory")
        await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
    memory = dapp.channels["memory"]

    # First run: two parts go out, then the platform times out for good (a crash stand-in:
    # the row keeps parts_sent=2).
    original_send = memory.send
    calls = {"n": 0}

    async def flaky(chat_key, message, *, chat_kind="private"):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 2:
            return Outcome(Status.TRANSIENT, "timed out")
        return await original_send(chat_key, message, chat_kind=chat_kind)

    memory.send = flaky  # type: ignore[method-assign]
    await run_until_idle(dapp)
    first = memory.texts_for(507)
    assert len(first) == 2
    async with dapp.sessions() as session:
        row = (await session.execute(select(Delivery))).scalar_one()
    assert row.parts_sent == 2 and row.state == "pending"
    memory.send = original_send  # type: ignore[method-assign]
    dapp.clock.now += timedelta(minutes=5)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    texts = memory.texts_for(507)
    marks = [re.search(r"\((\d+)/(\d+)\)</i>$", t).groups() for t in texts]  # type: ignore[union-attr]
    total = int(marks[0][1])
    assert total > 3
    assert marks == [(str(k), str(total)) for k in range(1, total + 1)]  # each part once


async def test_a_run_keeps_its_matching_for_a_minute_at_most(dapp: App) -> None:
    """delivery.contents.Matches: the batches of a digest run match against subscriptions and
    items read once (a chat that paused its subscription meanwhile is matched as it was), for
    a minute of the clock at most; then what changed counts."""
    from sqlalchemy import update

    from delivery import outbox
    from delivery.contents import Matches, resolve
    from delivery.digests import DigestScheduler
    from storage.models import Subscription

    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        await add_item(session, src, "Tin sáng nay ở Huế", provinces=["46"],
                       fetched_at=local(14, 6, 30))
        subs = []
        for n in range(3):
            chat = await add_chat(session, 700 + n, channel="memory")
            subs.append(await add_sub(session, chat, provinces=["46"], mode="daily", hour=7))
    dapp.clock.now = local(14, 7, 0) + timedelta(seconds=30)  # type: ignore[attr-defined]
    assert await DigestScheduler(dapp).tick() == 3
    matches = Matches()

    async def next_row_items() -> tuple[int, ...] | None:
        [row] = await outbox.claim(dapp, "memory", 1, 1, "w0")
        async with dapp.sessions() as session:
            await resolve(dapp, session, [row], {"memory": 4096}, matches)
        return row.payload.items

    assert len(await next_row_items() or []) == 1
    async with dapp.sessions() as session, session.begin():
        await session.execute(update(Subscription).where(Subscription.id.in_(subs[1:]))
                              .values(paused=True))
    assert len(await next_row_items() or []) == 1  # the same run, within the minute
    dapp.clock.now += Matches.KEPT + timedelta(seconds=1)  # type: ignore[attr-defined]
    assert await next_row_items() == ()  # read again: paused, nothing matches


async def test_a_run_loads_its_items_once_for_a_minute_at_most(dapp: App) -> None:
    """delivery.contents.Matches.items: the batches of a run render the items loaded by the
    first one (an item edited meanwhile is rendered as it was), for a minute of the clock at
    most; then the edit shows."""
    from sqlalchemy import update

    from delivery import outbox
    from delivery.contents import Matches, resolve
    from delivery.digests import DigestScheduler
    from storage.models import Item

    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Tin sáng nay ở Huế", provinces=["46"],
                              fetched_at=local(14, 6, 30))
        for n in range(3):
            chat = await add_chat(session, 710 + n, channel="memory")
            await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
    dapp.clock.now = local(14, 7, 0) + timedelta(seconds=30)  # type: ignore[attr-defined]
    assert await DigestScheduler(dapp).tick() == 3
    matches = Matches()

    async def next_row_title() -> str:
        [row] = await outbox.claim(dapp, "memory", 1, 1, "w0")
        async with dapp.sessions() as session:
            views = await resolve(dapp, session, [row], {"memory": 4096}, matches)
        return views[item].title

    assert await next_row_title() == "Tin sáng nay ở Huế"
    async with dapp.sessions() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item).values(title="Tin đã sửa"))
    assert await next_row_title() == "Tin sáng nay ở Huế"  # the same run, within the minute
    dapp.clock.now += Matches.KEPT + timedelta(seconds=1)  # type: ignore[attr-defined]
    assert await next_row_title() == "Tin đã sửa"


async def test_a_run_reads_again_the_times_of_items_not_matched_yet(dapp: App) -> None:
    """delivery.contents.Matches.times keeps an item's (fetched_at, matched_at) only once it is
    matched: matched after a batch read it, it counts in the next batch's held-digest window."""
    from sqlalchemy import update

    from delivery.contents import Matches
    from storage.models import Item

    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Tin sáng nay ở Huế", provinces=["46"],
                              fetched_at=local(14, 6, 30))
        await session.execute(update(Item).where(Item.id == item).values(matched_at=None))
    matches, now = Matches(), local(14, 7, 0)
    async with dapp.sessions() as session:
        assert (await matches.times(session, {item}, now))[item] == (local(14, 6, 30), None)
    async with dapp.sessions() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item)
                              .values(matched_at=local(14, 6, 31)))
    async with dapp.sessions() as session:
        assert (await matches.times(session, {item}, now))[item] == (local(14, 6, 30),
                                                                     local(14, 6, 31))
