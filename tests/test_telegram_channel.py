"""TelegramChannel against the fake Bot API: every Telegram answer becomes the right Outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from channels.telegram import TelegramChannel
from config import ConfigError
from model.channel import Button, OutMessage, Status
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def settings_for(fake: FakeTelegram, **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings("sqlite:///unused.db", **{**fake.settings_overrides(), **overrides})


@pytest.fixture
async def channel(fake_telegram: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    tg = TelegramChannel(settings_for(fake_telegram))
    await tg.start()
    yield tg
    await tg.close()


async def test_text_with_buttons(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    message = OutMessage(
        text="<b>Hưng Yên</b> &amp; Thái Bình",
        buttons=[[Button("Tiếp ▶", "sr:ab12:2")], [Button("Xóa", "ls:rm:7")]],
    )
    outcome = await channel.send("5", message)
    assert outcome.status is Status.OK and outcome.message_id == "1"
    (sent,) = fake_telegram.messages_for(5)
    assert sent.plain == "Hưng Yên & Thái Bình" and sent.parse_mode == "HTML"
    assert [[b["callback_data"] for b in row] for row in sent.buttons] == [
        ["sr:ab12:2"],
        ["ls:rm:7"],
    ]
    assert sent.params["link_preview_options"] == '{"is_disabled": true}'
    assert channel.capabilities.max_text_units == 4096 and channel.capabilities.buttons


async def test_photo_and_document(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    assert (await channel.send("5", OutMessage(text="<b>Biểu đồ</b>", photo=PNG))).ok
    assert (await channel.send("5", OutMessage(document=("nguon.opml", b"<opml/>")))).ok
    photo, document = fake_telegram.messages_for(5)
    assert photo.method == "sendPhoto" and photo.photo == PNG and photo.plain == "Biểu đồ"
    assert document.method == "sendDocument" and document.document == b"<opml/>"
    assert document.filename == "nguon.opml"


@pytest.mark.parametrize(
    ("behaviour", "status", "words"),
    [
        ("blocked", Status.GONE, "blocked by the user"),
        ("deactivated", Status.GONE, "user is deactivated"),
        ("kicked", Status.GONE, "kicked from the group chat"),
        ("not_found", Status.GONE, "chat not found"),
    ],
)
async def test_gone_chats(
    channel: TelegramChannel,
    fake_telegram: FakeTelegram,
    behaviour: str,
    status: Status,
    words: str,
) -> None:
    fake_telegram.script_chat(-77 if behaviour == "kicked" else 77, behaviour)
    outcome = await channel.send(
        "-77" if behaviour == "kicked" else "77",
        OutMessage(text="x"),
        chat_kind="group" if behaviour == "kicked" else "private",
    )
    assert outcome.status is status
    assert words in outcome.detail.lower()


async def test_migrated_group(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.script_chat(-300, "migrated", new_chat_id=-1000000000300)
    outcome = await channel.send("-300", OutMessage(text="x"), chat_kind="group")
    assert outcome.status is Status.MIGRATED and outcome.new_chat_key == "-1000000000300"


async def test_retry_after(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    fake_telegram.force_429(1, retry_after=7)
    outcome = await channel.send("5", OutMessage(text="x"))
    assert outcome.status is Status.RETRY_AFTER and outcome.retry_after == 7.0
    assert (await channel.send("5", OutMessage(text="x"))).ok
    assert fake_telegram.count_429 == 1


@pytest.mark.parametrize("status_code", [500, 502])
async def test_server_errors_are_transient(
    channel: TelegramChannel, fake_telegram: FakeTelegram, status_code: int
) -> None:
    fake_telegram.script_chat(5, "error", status=status_code, times=1)
    assert (await channel.send("5", OutMessage(text="x"))).status is Status.TRANSIENT
    assert (await channel.send("5", OutMessage(text="x"))).ok


async def test_timeout_and_unreachable_are_transient(fake_telegram: FakeTelegram) -> None:
    settings = settings_for(fake_telegram)
    bot = Bot(
        fake_telegram.token, base_url=fake_telegram.base_url, request=HTTPXRequest(read_timeout=0.2)
    )
    channel = TelegramChannel(settings, bot=bot)
    async with bot:
        fake_telegram.script_chat(5, "slow", delay=1.0, times=1)
        outcome = await channel.send("5", OutMessage(text="x"))
        assert outcome.status is Status.TRANSIENT and "timed out" in outcome.detail.lower()
        fake_telegram.stop()
        assert (await channel.send("5", OutMessage(text="x"))).status is Status.TRANSIENT


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (OutMessage(text="Tom & Jerry"), "can't parse entities"),
        (OutMessage(text="a<br>b"), "can't parse entities"),
        (OutMessage(text="<b>open"), "can't parse entities"),
        (OutMessage(text="ư" * 4097), "message is too long"),
        (OutMessage(text=""), "message text is empty"),
        (OutMessage(text="c" * 1025, photo=PNG), "caption is too long"),
    ],
)
async def test_malformed_messages_are_bad_content(
    channel: TelegramChannel, message: OutMessage, words: str
) -> None:
    outcome = await channel.send("5", message)
    assert outcome.status is Status.BAD_CONTENT
    assert words in outcome.detail.lower()


async def test_long_callback_data_is_refused_before_sending(
    channel: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    outcome = await channel.send("5", OutMessage(text="x", buttons=[[Button("x", "đ" * 33)]]))
    assert outcome.status is Status.BAD_CONTENT and "66 bytes" in outcome.detail
    assert fake_telegram.calls["sendMessage"] == 0
    assert (await channel.send("x5", OutMessage(text="x"))).status is Status.BAD_CONTENT


async def test_wrong_token_is_auth(fake_telegram: FakeTelegram) -> None:
    token = "7000000009:AAWrongTokenOfTheRightShape_123456789"
    channel = TelegramChannel(settings_for(fake_telegram, telegram_bot_token=token))
    with pytest.raises(ConfigError) as refused:
        await channel.start()
    assert token not in str(refused.value)
    outcome = await channel.send("5", OutMessage(text="x"))
    assert outcome.status is Status.AUTH
    assert token not in outcome.detail
    await channel.close()


async def test_edits(channel: TelegramChannel, fake_telegram: FakeTelegram) -> None:
    first = await channel.send(
        "5", OutMessage(text="Trang 1", buttons=[[Button("2", "sr:ab12:2")]])
    )
    page2 = OutMessage(
        text="Trang 2", buttons=[[Button("1", "sr:ab12:1")]], edit_message_id=first.message_id
    )
    edited = await channel.send("5", page2)
    assert edited.ok and edited.message_id == first.message_id
    again = await channel.send("5", page2)  # a double tap: nothing changes, all is well
    assert again.ok and again.detail == "already up to date"
    buttons_only = await channel.send("5", OutMessage(edit_message_id=first.message_id))
    assert buttons_only.ok
    gone = await channel.send("5", OutMessage(text="Trang 3", edit_message_id="999"))
    assert gone.ok and gone.message_id == "2"  # sent anew
    assert [s.method for s in fake_telegram.messages_for(5)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "sendMessage",
    ]
    assert fake_telegram.messages_for(5)[2].buttons == []


async def test_answer_button_and_download(
    channel: TelegramChannel, fake_telegram: FakeTelegram
) -> None:
    query = fake_telegram.push_callback(5, 5, "lg:vi", 1)
    assert (await channel.answer_button(query, "Đã đổi")).ok
    expired = await channel.answer_button(query, "again")
    assert expired.ok and "expired" in expired.detail
    assert fake_telegram.callback_answers[query]["text"] == "Đã đổi"
    message = fake_telegram.push_document(5, 5, "nguon.opml", b"<opml version='2.0'/>")
    assert await channel.download(message["document"]["file_id"]) == b"<opml version='2.0'/>"
