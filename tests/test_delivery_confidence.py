"""Label scores in delivery: instant alerts take only confident matches; weaker ones wait for
the subscriber's next digest, marked as lower-confidence; nothing lost, nothing sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from delivery.match import on_new_items
from runtime import App
from storage.models import Delivery
from tests.delivery_support import (
    add_chat,
    add_item,
    add_source,
    add_sub,
    given,
    memory_app,
    run_until_idle,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LOW_VI = "Có thể liên quan"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=TZ)


async def make_app(db_url: str, **settings: object) -> App:
    return memory_app(db_url, local(14, 10), **settings)


@pytest.fixture
async def dapp(db_url: str) -> AsyncIterator[App]:
    app = await make_app(db_url)
    yield app
    await app.close()


def texts(app: App, key: int) -> list[str]:
    return app.channels["memory"].texts_for(key)  # type: ignore[attr-defined]


async def outbox(app: App) -> list[tuple[str, str, str, datetime]]:
    async with app.sessions() as session:
        rows = await session.execute(select(Delivery.kind, Delivery.dedup_key, Delivery.state,
                                            Delivery.due_at).order_by(Delivery.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_weak_match_waits_for_the_held_digest_of_an_instant_subscriber(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        sure = await add_item(session, src, "Lào Cai: bàn giao nhà Đại đoàn kết",
                              provinces=["15"], fetched_at=local(14, 10),
                              scores={"15": 0.97})
        unsure = await add_item(session, src, "Hội nghị có đại biểu Lào Cai tham dự",
                                provinces=["15"], fetched_at=local(14, 10),
                                scores={"15": 0.4})
        chat = await add_chat(session, 601, channel="memory")
        await add_sub(session, chat, provinces=["15"])  # instant
    await on_new_items(dapp, [sure, unsure])
    await run_until_idle(dapp)
    [alert] = texts(dapp, 601)
    assert "bàn giao nhà" in alert and "đại biểu Lào Cai" not in alert
    assert await given(dapp) == {(chat, sure)}

    # One held digest queued, due at the chat's digest hour (7:00) the next morning.
    kinds = [(kind, key.split(":")[1], state, due) for kind, key, state, due in
             await outbox(dapp)]
    assert kinds[1] == ("digest", "held", "pending", local(15, 7))
    await on_new_items(dapp, [unsure])  # matching again queues nothing new
    assert len(await outbox(dapp)) == 2

    dapp.clock.now = local(15, 7, 1)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    alert_again, digest = texts(dapp, 601)
    assert alert_again == alert
    assert digest.startswith("📥 <b>Tin để dành ngày 15/09/2026</b>: 1 tin")
    assert LOW_VI in digest and "đại biểu Lào Cai" in digest and "bàn giao nhà" not in digest
    assert await given(dapp) == {(chat, sure), (chat, unsure)}

    dapp.clock.now = local(16, 7, 1)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    assert len(texts(dapp, 601)) == 2  # nothing twice


async def test_a_match_made_at_digest_time_goes_to_the_next_held_digest(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        first = await add_item(session, src, "Tin một Huế", provinces=["46"],
                               scores={"46": 0.5})
        second = await add_item(session, src, "Tin hai Huế", provinces=["46"],
                                scores={"46": 0.5})
        chat = await add_chat(session, 602, channel="memory")
        await add_sub(session, chat, provinces=["46"])
    await on_new_items(dapp, [first])
    dapp.clock.now = local(15, 7)  # type: ignore[attr-defined]
    await run_until_idle(dapp)  # the digest due at 7:00 is sent...
    await on_new_items(dapp, [second])  # ...and a match made at that very moment
    dapp.clock.now = local(16, 7)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    one, two = texts(dapp, 602)
    assert "Tin một" in one and "Tin hai" not in one
    assert "Tin hai" in two and "Tin một" not in two


async def test_strong_by_one_subscription_is_instant_and_digests_mark_weak_items(
        dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Bão đổ bộ Quảng Ninh", provinces=["22"],
                              topics=["thien-tai-cuu-tro"], fetched_at=local(14, 10),
                              scores={"22": 0.3, "thien-tai-cuu-tro": 0.95})
        weak = await add_item(session, src, "Quảng Ninh có thể có mưa", provinces=["22"],
                              fetched_at=local(14, 11), scores={"22": 0.3})
        strong = await add_item(session, src, "Quảng Ninh khánh thành cầu", provinces=["22"],
                                fetched_at=local(14, 12))
        chat = await add_chat(session, 603, channel="memory")
        await add_sub(session, chat, provinces=["22"])  # weak for `item`
        await add_sub(session, chat, topics=["thien-tai-cuu-tro"])  # strong for `item`
        daily = await add_chat(session, 604, channel="memory", lang="en")
        await add_sub(session, daily, provinces=["22"], mode="daily", hour=7)
    await on_new_items(dapp, [item])
    await run_until_idle(dapp)
    assert [t for t in texts(dapp, 603) if "Bão đổ bộ" in t]
    assert [k for k, key, *_ in await outbox(dapp) if ":held:" in key] == []

    from delivery.digests import DigestScheduler
    dapp.clock.now = local(15, 7, 1)  # type: ignore[attr-defined]
    await DigestScheduler(dapp).tick()
    await run_until_idle(dapp)
    [digest] = texts(dapp, 604)
    assert digest.startswith("📰 <b>Digest for 15/09/2026</b>: 3 items")
    low = digest.index("Possibly relevant")
    assert digest.index("khánh thành cầu") < low  # confident: with the others
    assert digest.index("Bão đổ bộ") > low and digest.index("có thể có mưa") > low
    assert {i for c, i in await given(dapp) if c == daily} == {item, weak, strong}


async def test_threshold_zero_sends_every_match_at_once(db_url: str) -> None:
    app = await make_app(db_url, instant_min_score=0.0)
    try:
        async with app.sessions() as session, session.begin():
            src = await add_source(session)
            item = await add_item(session, src, "Tin Cà Mau", provinces=["96"],
                                  scores={"96": 0.01})
            chat = await add_chat(session, 605, channel="memory")
            await add_sub(session, chat, provinces=["96"])
        await on_new_items(app, [item])
        await run_until_idle(app)
        assert len(texts(app, 605)) == 1
        assert [key for _, key, *_ in await outbox(app) if ":held:" in key] == []
    finally:
        await app.close()


async def test_many_chats_are_queued_together(dapp: App) -> None:
    """Rows are inserted in one statement run for them all (an executemany)."""
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        sure = await add_item(session, src, "Tin Cần Thơ", provinces=["92"])
        unsure = await add_item(session, src, "Tin có thể ở Cần Thơ", provinces=["92"],
                                scores={"92": 0.2})
        for key in range(700, 705):
            await add_sub(session, await add_chat(session, key, channel="memory"),
                          provinces=["92"])
    await on_new_items(dapp, [sure, unsure])
    rows = await outbox(dapp)
    assert sorted(kind for kind, *_ in rows) == ["digest"] * 5 + ["instant"] * 5
    assert all(":held:" in key for kind, key, *_ in rows if kind == "digest")


async def test_a_weak_match_committed_after_its_digest_was_sent_is_not_lost(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        first = await add_item(session, src, "Tin một Sơn La", provinces=["14"],
                               scores={"14": 0.5})
        late = await add_item(session, src, "Tin muộn Sơn La", provinces=["14"],
                              scores={"14": 0.5})
        chat = await add_chat(session, 606, channel="memory")
        await add_sub(session, chat, provinces=["14"])
    await on_new_items(dapp, [first])
    dapp.clock.now = local(15, 7, 1)  # type: ignore[attr-defined]
    await run_until_idle(dapp)  # the 7:00 held digest is resolved and sent...
    # ...while a match stamped at 6:59 was still being committed (another process, PostgreSQL).
    dapp.clock.now = local(15, 6, 59)  # type: ignore[attr-defined]
    await on_new_items(dapp, [late])
    dapp.clock.now = local(16, 7, 1)  # type: ignore[attr-defined]
    await run_until_idle(dapp)
    one, two = texts(dapp, 606)
    assert "Tin một" in one and "Tin muộn" in two and "Tin một" not in two
    assert await given(dapp) == {(chat, first), (chat, late)}
