"""The shared inbound runner on a memory channel: per-chat order, the flood limit, the apology,
and what happens to a reply after each outcome (the sender's policy)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from channels.inbound import Inbound
from delivery.chats import find_chat
from handlers.types import Incoming, Result
from model.channel import Outcome, OutMessage, Status
from render.texts import t
from runtime import App, open_app
from services.chats import ensure_chat
from tests.conftest import make_settings
from tests.delivery_support import MemoryChannel
from tests.waiting import wait_for


class ButtonChannel(MemoryChannel):
    """A memory channel that also records its button answers."""

    def __init__(self) -> None:
        super().__init__("memory")
        self.answers: list[tuple[str, str]] = []

    async def answer_button(self, callback_id: str, text: str = "") -> Outcome:
        self.answers.append((callback_id, text))
        return Outcome(Status.OK)


def message(chat: str, text: str, user: str = "u1") -> Incoming:
    return Incoming(channel="memory", chat_key=chat, user_key=user, text=text)


async def echo(app: App, incoming: Incoming) -> Result:
    return Result(messages=[OutMessage(text=f"echo {incoming.text}")],
                  button_answer=incoming.callback_data)


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[App]:
    application = open_app(make_settings(sqlite_url, command_flood_per_minute=2,
                                         delivery_retry_base_seconds=0.01, delivery_max_attempts=3))
    yield application
    await application.close()


async def test_one_chat_in_order_two_chats_at_once(app: App) -> None:
    channel = MemoryChannel()
    gates = {name: asyncio.Event() for name in ("a1", "a2", "b1", "b2")}
    log: list[str] = []

    async def gated(app: App, incoming: Incoming) -> Result:
        log.append(f"start {incoming.text}")
        await gates[incoming.text].wait()
        log.append(f"end {incoming.text}")
        return Result(messages=[OutMessage(text=incoming.text)])

    runner = Inbound(app, channel, dispatch=gated, flood=False)
    for chat, text in (("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")):
        await runner.submit(message(chat, text))
    await wait_for(lambda: {"start a1", "start b1"} <= set(log))  # the two chats at once
    gates["a2"].set()  # ready, but it must wait for a1
    gates["b1"].set()
    await wait_for(lambda: "start b2" in log)
    assert "start a2" not in log
    gates["a1"].set()
    gates["b2"].set()
    await wait_for(lambda: len(channel.sent) == 4)
    assert log.index("end a1") < log.index("start a2")
    assert log.index("end b1") < log.index("start b2")
    assert channel.texts_for("a") == ["a1", "a2"]
    assert channel.texts_for("b") == ["b1", "b2"]
    await runner.drain()


async def test_flood_gets_one_line_then_silence(app: App) -> None:
    channel = ButtonChannel()
    seen: list[str] = []

    async def counting(app: App, incoming: Incoming) -> Result:
        seen.append(incoming.text or incoming.callback_data or "")
        return await echo(app, incoming)

    runner = Inbound(app, channel, dispatch=counting)
    for n in range(4):
        await runner.handle(message("c", f"/list {n}"))
    assert seen == ["/list 0", "/list 1"]
    assert channel.texts_for("c") == ["echo /list 0", "echo /list 1", t("vi", "flood_limited")]
    # Another person is not held back; a button press over the limit is answered in silence.
    await runner.handle(message("c", "/help", user="u2"))
    press = Incoming(channel="memory", chat_key="c", user_key="u1", callback_data="pk:1",
                     callback_id="q1")
    await runner.handle(press)
    assert seen[-1] == "/help" and channel.answers == [("q1", "")]


async def test_handler_error_is_logged_and_apologised_for(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    channel = MemoryChannel()

    async def failing(app: App, incoming: Incoming) -> Result:
        if incoming.text.startswith("/boom"):
            raise RuntimeError("handler bug")
        return await echo(app, incoming)

    caplog.set_level(logging.ERROR, "channels.inbound")
    runner = Inbound(app, channel, dispatch=failing)
    await runner.handle(message("c", "/boom now"))
    await runner.handle(message("c", "/start"))
    assert channel.texts_for("c") == [t("vi", "error_internal"), "echo /start"]
    (record,) = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert "chat c" in record.getMessage() and "'/boom'" in record.getMessage()
    assert record.exc_info and "handler bug" in str(record.exc_info[1])


async def test_prepare_can_answer_instead_of_the_handlers(app: App) -> None:
    channel = MemoryChannel()
    runner = Inbound(app, channel, dispatch=echo)

    async def refuse(incoming: Incoming) -> bool:
        await runner.say(incoming, "flood_limited")
        return False

    await runner.handle(message("c", "/import"), refuse)
    assert channel.texts_for("c") == [t("vi", "flood_limited")]


async def test_replies_follow_the_senders_outcome_policy(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    channel = MemoryChannel()
    runner = Inbound(app, channel, dispatch=echo, flood=False)
    # "Retry after" and a short outage are ridden out: the reply arrives once.
    channel.script["c"] = [Outcome(Status.RETRY_AFTER, "slow down", retry_after=0.01),
                           Outcome(Status.TRANSIENT, "timeout")]
    await runner.handle(message("c", "/a"))
    assert channel.calls == [("c", Status.RETRY_AFTER), ("c", Status.TRANSIENT), ("c", Status.OK)]
    assert channel.texts_for("c") == ["echo /a"]
    # A migrated group: the chat moves and the reply goes to its new id.
    await ensure_chat(app, "memory", "g-old", "group")
    channel.script["g-old"] = [Outcome(Status.MIGRATED, "moved", new_chat_key="g-new")]
    await runner.handle(message("g-old", "/b"))
    assert channel.texts_for("g-new") == ["echo /b"]
    assert await find_chat(app, "memory", "g-old") is None
    # A gone chat is marked inactive, with the reason.
    await ensure_chat(app, "memory", "gone")
    channel.script["gone"] = [Outcome(Status.GONE, "blocked by the user")]
    await runner.handle(message("gone", "/c"))
    chat = await find_chat(app, "memory", "gone")
    assert chat is not None and not chat.active and chat.inactive_reason == "blocked by the user"
    # Rejected content is not retried, and the admins are told.
    caplog.set_level(logging.WARNING, "delivery.alerts")
    channel.script["d"] = [Outcome(Status.BAD_CONTENT, "can't parse entities")]
    await runner.handle(message("d", "/d"))
    assert channel.calls[-1] == ("d", Status.BAD_CONTENT) and channel.texts_for("d") == []
    assert any("reply not sent (bad_content)" in r.getMessage() for r in caplog.records)
    # An outage that outlasts the sender's attempts ends the reply, logged.
    max_attempts = app.settings.delivery_max_attempts
    channel.script["e"] = [Outcome(Status.TRANSIENT, "down")] * (max_attempts + 1)
    await runner.handle(message("e", "/e"))
    assert [s for key, s in channel.calls if key == "e"] == [Status.TRANSIENT] * max_attempts
