"""The Telegram inbound side end to end: PTB's real Application polls the fake Bot API, updates
reach a scripted dispatcher as `Incoming`, and its replies arrive at the fake."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select
from telegram.warnings import PTBUserWarning

from channels.telegram_app import TelegramHandle, start_telegram, stop_telegram
from delivery.pacing import Limits, Pacer
from handlers.commands import command_list
from handlers.types import Incoming, Result
from logs import setup_logging
from model.channel import Button, OutMessage
from render.texts import t
from runtime import App, open_app
from services.chats import ensure_chat
from storage.models import Chat
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for

ADMIN = 9001


class Script:
    """A stand-in router: records what it is given and answers predictably."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def __call__(self, app: App, incoming: Incoming) -> Result:
        self.seen.append(incoming)
        if incoming.callback_data:
            return Result(
                messages=[
                    OutMessage(
                        text=f"<i>{incoming.callback_data}</i>", edit_message_id=incoming.message_id
                    )
                ],
                button_answer="Đã chọn",
            )
        if incoming.text.startswith("/boom"):
            raise RuntimeError("handler bug")
        if incoming.document:
            name, content = incoming.document
            return Result(messages=[OutMessage(text=f"{name}: {len(content)} bytes")])
        return Result(
            messages=[
                OutMessage(
                    text=f"<b>Đã nhận</b> {incoming.text}", buttons=[[Button("Tiếp", "sr:ab12:2")]]
                )
            ]
        )


@pytest.fixture
async def app(sqlite_url: str, fake_telegram: FakeTelegram) -> AsyncIterator[App]:
    application = open_app(
        make_settings(
            sqlite_url,
            **fake_telegram.settings_overrides(),
            admin_ids=str(ADMIN),
            command_flood_per_minute=3,
            http_max_bytes=2048,
        )
    )
    yield application
    await application.close()


@asynccontextmanager
async def running(
    app: App,
    dispatch: Callable | None = None,  # type: ignore[type-arg]
    pacer: Pacer | None = None,
) -> AsyncIterator[TelegramHandle]:
    handle = await start_telegram(app, dispatch=dispatch, pacer=pacer)
    try:
        yield handle
    finally:
        await stop_telegram(handle)


async def chat_row(app: App, key: str) -> Chat | None:
    async with app.sessions() as session:
        return await session.scalar(
            select(Chat).where(Chat.channel == "telegram", Chat.chat_key == key)
        )


async def test_command_reply_and_menus(app: App, fake_telegram: FakeTelegram) -> None:
    script = Script()
    pacer = Pacer(Limits(global_per_second=100, private_per_second=100, group_per_minute=100))
    async with running(app, script, pacer) as handle:
        with pytest.warns(PTBUserWarning, match="No `JobQueue`"):  # Loa's jobs: its scheduler
            assert handle.application.job_queue is None
        assert app.channels["telegram"] is handle.channel
        assert handle.channel.bot is handle.application.bot  # one bot, one connection pool
        fake_telegram.push_message(5, 5, "/start p33", first_name="Lan")
        (reply,) = await fake_telegram.wait_for_messages(5, 1)
    assert (
        reply.plain == "Đã nhận /start p33" and reply.buttons[0][0]["callback_data"] == "sr:ab12:2"
    )
    (incoming,) = script.seen
    assert (incoming.channel, incoming.chat_key, incoming.user_key) == ("telegram", "5", "5")
    assert incoming.chat_kind == "private" and incoming.sender_is_chat_admin
    assert incoming.user_name == "Lan" and incoming.language_code == "vi"
    assert fake_telegram.commands[("default", "")] == command_list("citizen", "vi")
    assert fake_telegram.commands[("default", "en")] == command_list("citizen", "en")
    assert fake_telegram.commands[(f"chat:{ADMIN}", "")] == command_list("admin", "vi")
    assert app.channels == {}  # unregistered on stop


async def test_button_press_is_answered_and_edits(app: App, fake_telegram: FakeTelegram) -> None:
    script = Script()
    async with running(app, script):
        fake_telegram.push_message(5, 5, "/search lào cai")
        (first,) = await fake_telegram.wait_for_messages(5, 1)
        query = fake_telegram.push_callback(5, 5, "sr:ab12:2", first.message_id)
        messages = await fake_telegram.wait_for_messages(5, 2)
        await wait_for(lambda: query in fake_telegram.callback_answers)
        fake_telegram.push_callback(5, 5, "x" * 65, first.message_id)  # not from us: ignored
        fake_telegram.push_message(5, 5, "/list")
        await fake_telegram.wait_for_messages(5, 3)
    edit = messages[1]
    assert edit.method == "editMessageText" and edit.message_id == first.message_id
    assert edit.plain == "sr:ab12:2"
    assert fake_telegram.callback_answers[query]["text"] == "Đã chọn"
    pressed = script.seen[1]
    assert pressed.callback_data == "sr:ab12:2" and pressed.callback_id == query
    assert pressed.message_id == str(first.message_id)
    assert [i.text or i.callback_data for i in script.seen] == [
        "/search lào cai",
        "sr:ab12:2",
        "/list",
    ]
    assert len(fake_telegram.callback_answers) == 2  # the unusable press was answered too


async def test_groups_read_only_what_is_addressed_to_the_bot(
    app: App, fake_telegram: FakeTelegram
) -> None:
    script = Script()
    fake_telegram.set_chat_member(-100, 7, "administrator")
    async with running(app, script):
        fake_telegram.push_message(8, -100, "chào cả nhà", title="Tổ 5")
        fake_telegram.push_message(8, -100, "/start@otherbot")
        fake_telegram.push_message(8, -100, "/sub@loa_test_bot\nnhà tạm")
        fake_telegram.push_message(7, -100, "/digest daily 7")
        await fake_telegram.wait_for_messages(-100, 2)
    assert [(i.user_key, i.text, i.sender_is_chat_admin) for i in script.seen] == [
        ("8", "/sub\nnhà tạm", False),
        ("7", "/digest daily 7", True),
    ]
    assert script.seen[0].chat_kind == "group" and script.seen[0].chat_title == "Tổ 5"


async def test_group_migration_moves_the_chat(app: App, fake_telegram: FakeTelegram) -> None:
    await ensure_chat(app, "telegram", "-200", "group", "Tổ 6")
    await ensure_chat(app, "telegram", "-300", "group", "Tổ 7")
    fake_telegram.script_chat(-300, "migrated", new_chat_id=-1000000000300)
    async with running(app, Script()):
        fake_telegram.push_migration(-200, -1000000000200)
        await wait_for(lambda: chat_row(app, "-1000000000200"))
        # A reply to a group that moved without us seeing the service message follows it.
        fake_telegram.push_message(7, -300, "/list")
        (reply,) = await fake_telegram.wait_for_messages(-1000000000300, 1)
    assert reply.plain == "Đã nhận /list"
    assert await chat_row(app, "-200") is None
    assert await chat_row(app, "-1000000000300") is not None


async def test_flood_limit_warns_once_then_stays_silent(
    app: App, fake_telegram: FakeTelegram
) -> None:
    script = Script()
    fake_telegram.set_chat_member(-100, 7, "member")
    async with running(app, script):
        for n in range(6):
            fake_telegram.push_message(8, -100, f"/search {n}")
        # Another person's command in the same chat is handled after all of the flood.
        fake_telegram.push_message(7, -100, "/list")
        messages = await fake_telegram.wait_for_messages(-100, 5)
    assert [s.plain for s in messages] == [
        "Đã nhận /search 0",
        "Đã nhận /search 1",
        "Đã nhận /search 2",
        t("vi", "flood_limited"),
        "Đã nhận /list",
    ]
    assert len(script.seen) == 4


async def test_failing_handler_apologises_logs_and_carries_on(
    app: App, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "channels.inbound")
    async with running(app, Script()):
        fake_telegram.push_message(5, 5, "/boom now")
        await fake_telegram.wait_for_messages(5, 1)
        fake_telegram.push_message(5, 5, "/start")
        messages = await fake_telegram.wait_for_messages(5, 2)
    assert messages[0].plain == t("vi", "error_internal")
    assert messages[1].plain == "Đã nhận /start"
    (record,) = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert "chat 5" in record.getMessage() and "'/boom'" in record.getMessage()
    assert record.exc_info and "handler bug" in str(record.exc_info[1])


async def test_documents_are_downloaded_for_the_handlers(
    app: App, fake_telegram: FakeTelegram
) -> None:
    script = Script()
    opml = b"<opml version='2.0'><body/></opml>"
    async with running(app, script):
        fake_telegram.push_document(ADMIN, ADMIN, "nguon.opml", opml, caption="/import")
        (reply,) = await fake_telegram.wait_for_messages(ADMIN, 1)
        fake_telegram.push_document(ADMIN, ADMIN, "big.opml", b"x" * 4096)
        messages = await fake_telegram.wait_for_messages(ADMIN, 2)
    assert reply.plain == f"nguon.opml: {len(opml)} bytes"
    assert script.seen[0].text == "/import" and script.seen[0].document == ("nguon.opml", opml)
    assert messages[1].plain == t("vi", "file_too_big", limit_mb=1)
    assert len(script.seen) == 1


async def test_membership_changes(app: App, fake_telegram: FakeTelegram) -> None:
    script = Script()
    await ensure_chat(app, "telegram", "-400", "group")
    await ensure_chat(app, "telegram", "55", "private")
    fake_telegram.script_chat(55, "blocked")
    async with running(app, script):
        fake_telegram.push_chat_member(-400, 7, "left", "member")  # removed from a group
        fake_telegram.push_chat_member(-500, 7, "member", "left", title="Xóm mới")  # added
        await fake_telegram.wait_for_messages(-500, 1)
        fake_telegram.push_message(55, 55, "/start")  # its reply finds the user has blocked us
        await wait_for(lambda: _inactive(app, "55"))
        await wait_for(lambda: _inactive(app, "-400"))
    assert [(i.chat_key, i.text) for i in script.seen] == [("-500", "/start"), ("55", "/start")]
    assert (
        await chat_row(app, "55")
    ).inactive_reason == "Telegram: Forbidden: bot was blocked by the user"


async def _inactive(app: App, key: str) -> bool:
    chat = await chat_row(app, key)
    return chat is not None and not chat.active


async def test_the_real_router_answers(app: App, fake_telegram: FakeTelegram) -> None:
    async with running(app):
        fake_telegram.push_message(5, 5, "/start")
        (reply,) = await fake_telegram.wait_for_messages(5, 1)
    assert reply.plain and reply.plain != t("vi", "error_internal")


async def test_token_never_reaches_the_logs_at_debug(
    app: App, fake_telegram: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    noisy = [logging.getLogger(n) for n in ("httpx", "httpcore", "telegram", "apscheduler")]
    saved_levels = [logger.level for logger in noisy]
    setup_logging("DEBUG", app.settings.secrets())
    for logger in noisy:
        logger.setLevel(logging.DEBUG)  # the request lines carry the token in their URLs
    try:
        async with running(app, Script()):
            fake_telegram.push_message(5, 5, "/start")
            fake_telegram.push_message(5, 5, "/boom")
            await fake_telegram.wait_for_messages(5, 2)
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        for logger, level in zip(noisy, saved_levels, strict=True):
            logger.setLevel(level)
    err = capsys.readouterr().err
    assert "sendMessage" in err and "<redacted>" in err and "handler failed" in err
    assert fake_telegram.token not in err
    assert fake_telegram.token.split(":")[1] not in err


async def test_rejected_token_stops_start_up(sqlite_url: str, fake_telegram: FakeTelegram) -> None:
    token = "7000000009:AAWrongTokenOfTheRightShape_123456789"
    settings = make_settings(
        sqlite_url, **{**fake_telegram.settings_overrides(), "telegram_bot_token": token}
    )
    application = open_app(settings)
    try:
        with pytest.raises(Exception) as refused:
            await start_telegram(application)
        assert "TELEGRAM_BOT_TOKEN" in str(refused.value) and token not in str(refused.value)
    finally:
        await application.close()


async def test_unreachable_telegram_is_retried_in_the_background(
    sqlite_url: str, fake_telegram: FakeTelegram
) -> None:
    overrides = fake_telegram.settings_overrides()
    port = fake_telegram.port
    fake_telegram.stop()
    application = open_app(make_settings(sqlite_url, **overrides))
    script = Script()
    try:
        handle = await start_telegram(application, dispatch=script)
        assert "telegram" in application.channels and handle.tasks
        with FakeTelegram(port=port) as back:  # Telegram is reachable again
            back.push_message(5, 5, "/start")
            (reply,) = await back.wait_for_messages(5, 1)
            await stop_telegram(handle)
        assert reply.plain == "Đã nhận /start"
    finally:
        await application.close()
