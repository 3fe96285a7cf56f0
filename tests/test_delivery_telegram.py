"""The sender against the fake Bot API server: every row of the outcome table, and the limits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from channels.telegram import TelegramChannel
from delivery.match import on_new_items
from delivery.outbox import enqueue
from delivery.service import DeliveryService, start_delivery
from runtime import App, open_app
from storage.models import Chat, Delivery, Subscription
from tests.delivery_support import add_chat, add_item, add_source, add_sub, delivery_settings
from tests.fakes.http_fake import max_in_window
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for

ADMIN = 9001


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


async def _app(db_url: str, fake: FakeTelegram, **overrides: object) -> App:
    settings = delivery_settings(db_url, admin_ids=str(ADMIN), **fake.settings_overrides(),
                                 **overrides)
    app = open_app(settings)
    channel = TelegramChannel(settings)
    await channel.start()
    app.channels = {"telegram": channel}
    return app


@pytest.fixture
async def tapp(db_url: str, fake: FakeTelegram) -> AsyncIterator[App]:
    app = await _app(db_url, fake)
    yield app
    await app.channels["telegram"].close()  # type: ignore[attr-defined]
    await app.close()


@pytest.fixture
async def service(tapp: App) -> AsyncIterator[DeliveryService]:
    running = await start_delivery(tapp)
    yield running
    await running.stop()


async def _news(app: App, *chat_keys: int, kind: str = "private") -> tuple[int, dict[int, int]]:
    """One new item about Huế, and one chat per key subscribed to Huế; (item, {key: chat id})."""
    chats = {}
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Tin Huế: giám sát & phản biện <xã hội>",
                              "Tóm tắt có ký tự & và <thẻ>", provinces=["46"])
        for key in chat_keys:
            chats[key] = await add_chat(session, key, kind=kind)
            await add_sub(session, chats[key], provinces=["46"])
    return item, chats


async def _states(app: App) -> dict[int, tuple[str, str | None]]:
    async with app.sessions() as session:
        rows = await session.execute(select(Delivery.chat_id, Delivery.state, Delivery.last_error))
        return {chat: (state, error) for chat, state, error in rows}


async def test_ok_escaped_html_reaches_the_chat(tapp: App, fake: FakeTelegram,
                                                service: DeliveryService) -> None:
    item, chats = await _news(tapp, 111)
    await on_new_items(tapp, [item])
    [sent] = await fake.wait_for_messages(111, 1)
    assert "Tin Huế: giám sát & phản biện <xã hội>" in sent.plain
    assert "&amp;" in sent.text and "&lt;xã hội&gt;" in sent.text
    await wait_for(lambda: _sent_state(tapp, chats[111]))


async def _sent_state(app: App, chat_id: int) -> bool:
    return (await _states(app)).get(chat_id, ("",))[0] == "sent"


async def test_429_waits_retry_after_then_sends_the_same_message(
        tapp: App, fake: FakeTelegram, service: DeliveryService) -> None:
    fake.force_429(2, retry_after=1)
    item, chats = await _news(tapp, 121)
    started = time.monotonic()
    await on_new_items(tapp, [item])
    await fake.wait_for_messages(121, 1)
    assert time.monotonic() - started >= 1.0  # the sender waited as told
    assert fake.count_429 == 2 and len(fake.messages_for(121)) == 1
    await wait_for(lambda: _sent_state(tapp, chats[121]))


@pytest.mark.parametrize("behaviour", ["blocked", "deactivated", "not_found"])
async def test_gone_chat_is_marked_inactive_and_its_rows_cancelled(
        tapp: App, fake: FakeTelegram, service: DeliveryService, behaviour: str) -> None:
    fake.script_chat(131, behaviour)
    item, chats = await _news(tapp, 131)
    async with tapp.sessions() as session, session.begin():
        later = Delivery(chat_id=chats[131], kind="broadcast", lane=1, dedup_key="later-131",
                         payload={"parts": [{"text": "sau"}]},
                         due_at=tapp.clock().replace(year=2099))
        session.add(later)
    await on_new_items(tapp, [item])

    async def inactive() -> str | None:
        async with tapp.sessions() as session:
            chat = await session.get(Chat, chats[131])
            return None if chat.active else chat.inactive_reason

    reason = await wait_for(inactive)
    assert "Forbidden" in reason or "not found" in reason
    states = await _wait_states(tapp, 2, lambda s: "pending" not in s and "sending" not in s)
    assert sorted(s for s, _ in states) == ["cancelled", "cancelled"]
    assert fake.messages_for(131) == []


async def _wait_states(app: App, count: int, ok) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    async def check() -> list[tuple[str, str | None]] | None:
        async with app.sessions() as session:
            rows = (await session.execute(select(Delivery.state, Delivery.last_error))).all()
        states = [(s, e) for s, e in rows]
        return states if len(states) == count and ok([s for s, _ in states]) else None
    return await wait_for(check)


async def test_migrated_group_moves_and_resends(tapp: App, fake: FakeTelegram,
                                                service: DeliveryService) -> None:
    new_id = -1001234567890
    fake.script_chat(-141, "migrated", new_chat_id=new_id)
    item, chats = await _news(tapp, -141, kind="group")
    await on_new_items(tapp, [item])
    [sent] = await fake.wait_for_messages(new_id, 1)
    assert "Tin Huế" in sent.plain
    async with tapp.sessions() as session:
        chat = await session.get(Chat, chats[-141])
        subs = (await session.scalars(select(Subscription.chat_id))).all()
    assert chat.chat_key == str(new_id) and chat.active
    assert subs == [chats[-141]]  # the subscription followed the chat
    await wait_for(lambda: _sent_state(tapp, chats[-141]))


async def test_5xx_is_retried_with_backoff(tapp: App, fake: FakeTelegram,
                                           service: DeliveryService) -> None:
    fake.script_chat(151, "error", times=2, status=502)
    item, chats = await _news(tapp, 151)
    await on_new_items(tapp, [item])
    await fake.wait_for_messages(151, 1)
    await wait_for(lambda: _sent_state(tapp, chats[151]))
    async with tapp.sessions() as session:
        attempts = await session.scalar(select(Delivery.attempts))
    assert attempts == 2
    assert [e[2] for e in fake.errors if e[1] == 151] == [502, 502]


async def test_5xx_forever_gives_up_with_the_reason(db_url: str, fake: FakeTelegram) -> None:
    app = await _app(db_url, fake, delivery_max_attempts=3)
    fake.script_chat(152, "error", status=500)
    item, _ = await _news(app, 152)
    running = await start_delivery(app)
    try:
        await on_new_items(app, [item])
        [(_, error)] = await _wait_states(app, 1, lambda s: s == ["failed"])
        assert "3 attempts" in error and "Internal Server Error" in error
        assert len([e for e in fake.errors if e[1] == 152]) == 3
    finally:
        await running.stop()
        await app.channels["telegram"].close()  # type: ignore[attr-defined]
        await app.close()


async def test_malformed_message_fails_once_and_admins_are_alerted(
        tapp: App, fake: FakeTelegram, service: DeliveryService) -> None:
    async with tapp.sessions() as session, session.begin():
        target = await add_chat(session, 161)
        await add_chat(session, ADMIN)
    await enqueue(tapp, target, ["<b>not closed"], kind="broadcast", dedup_key="bad-161")
    [alert] = await fake.wait_for_messages(ADMIN, 1)
    assert "can't parse entities" in alert.plain.lower() and "sẽ không gửi lại" in alert.plain
    async with tapp.sessions() as session:
        row = (await session.execute(
            select(Delivery.state, Delivery.attempts).where(Delivery.chat_id == target))).one()
    assert row == ("failed", 1)
    assert len([e for e in fake.errors if e[1] == 161]) == 1  # never retried
    assert fake.messages_for(161) == []


async def test_limits_held_against_the_fake(db_url: str) -> None:
    """40 chats and a chatty one, through a fake that answers 429 to any excess: none."""
    with FakeTelegram(enforce_limits=True, global_per_second=10) as fake:
        app = await _app(db_url, fake, telegram_global_per_second=10)
        async with app.sessions() as session, session.begin():
            chats = [await add_chat(session, 1000 + n) for n in range(40)]
        for n, chat in enumerate(chats):
            await enqueue(app, chat, [f"Tin số {n}"], kind="broadcast", dedup_key=f"b{n}", lane=1)
        for n in range(3):
            await enqueue(app, chats[0], [f"Thêm {n}"], kind="broadcast", dedup_key=f"x{n}", lane=1)
        running = await start_delivery(app)
        try:
            await wait_for(lambda: len(fake.sent) == 43)
        finally:
            await running.stop()
            await app.channels["telegram"].close()  # type: ignore[attr-defined]
            await app.close()
        report = fake.limit_report()
        assert report["count_429"] == 0
        assert report["max_global_per_second"] <= 10
        assert report["max_private_per_second"] <= 1
        times = fake.send_times()
        assert max_in_window(times, 1.0) <= 10
        # The window is full, not averaged away: the run took about 43 / 10 s.
        assert times[-1] - times[0] >= 4.0
