"""The fake Bot API server itself, driven by python-telegram-bot's real `Bot` over sockets."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from tests.fakes.http_fake import max_in_window
from tests.fakes.telegram_api import FakeTelegram, parse_html
from tests.waiting import wait_for_sync

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\r\n" * 50


@pytest.fixture
def fake():
    with FakeTelegram() as server:
        yield server


def make_bot(fake: FakeTelegram, token: str | None = None) -> Bot:
    return Bot(token or fake.token, base_url=fake.base_url, base_file_url=fake.file_base_url)


async def test_get_me_and_wrong_tokens(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        assert bot.username == "loa_test_bot"
        assert bot.id == fake.bot_id
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await make_bot(fake, "7000000002:AAOtherTokenOfTheRightShape_0123456789").get_me()
    with pytest.raises(InvalidToken, match="Not Found"):
        await make_bot(fake, "12:short").get_me()


async def test_send_message_html_is_parsed_into_entities(fake: FakeTelegram) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Tiếp", callback_data="s:2")]])
    async with make_bot(fake) as bot:
        message = await bot.send_message(
            42,
            '  <b>Hà Nội</b> &amp; <a href="https://x.vn/?a=1&amp;b=2">tin</a> 😀<i>x</i> ',
            parse_mode="HTML",
            reply_markup=markup,
        )
    assert message.text == "Hà Nội & tin 😀x"
    kinds = [(e.type, e.offset, e.length) for e in message.entities]
    assert kinds == [("bold", 0, 6), ("text_link", 9, 3), ("italic", 15, 1)]  # 😀 is 2 UTF-16 units
    assert message.entities[1].url == "https://x.vn/?a=1&b=2"
    assert message.reply_markup.inline_keyboard[0][0].callback_data == "s:2"
    sent = fake.messages_for(42)[0]
    assert sent.plain == message.text and sent.parse_mode == "HTML"
    assert sent.buttons == [[{"text": "Tiếp", "callback_data": "s:2"}]]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("a <br> b", 'Unsupported start tag "br"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "Unmatched end tag"),
        ("x</b>", "Unexpected end tag"),
        ("1 < 2", 'Unsupported start tag ""'),
        ("Tom & Jerry", 'Unescaped "&"'),
        ("a &nbsp; b", 'Unescaped "&"'),
        ('<span class="x">s</span>', 'must have class "tg-spoiler"'),
        ("<a>link</a>", 'must have attribute "href"'),
        ("<b", "Unclosed start tag"),
    ],
)
def test_malformed_html_is_refused(text: str, error: str) -> None:
    with pytest.raises(Exception) as caught:
        parse_html(text)
    assert caught.value.code == 400
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert error in caught.value.description


def test_allowed_html_is_accepted() -> None:
    text = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike>"
        '<del>d</del><span class="tg-spoiler">p</span><tg-spoiler>q</tg-spoiler><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre><blockquote>q</blockquote>'
        "&lt;&gt;&quot;&#39;&#x27;"
    )
    plain, entities = parse_html(text)
    assert plain == "bsieunskdpqcx = 1q<>\"''"
    assert {"type": "pre", "offset": 12, "length": 5, "language": "python"} in entities


async def test_telegram_shaped_errors(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(1, "<br>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(1, "😀" * 2049)  # 4098 UTF-16 units
        await bot.send_message(1, "😀" * 2048)  # exactly 4096 units
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(1, "<b>" + "a" * 4097 + "</b>", parse_mode="HTML")
        await bot.send_message(
            1, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML"
        )  # tags don't count
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(1, "<b> </b>", parse_mode="HTML")
        with pytest.raises(BadRequest, match="Message caption is too long"):
            await bot.send_photo(1, PNG, caption="a" * 1025)
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(
                1,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("x", callback_data="đ" * 33)]]
                ),
            )  # 66 bytes
        with pytest.raises(BadRequest, match="Image_process_failed"):
            await bot.send_photo(1, b"not an image")
    assert [e[2] for e in fake.errors] == [400] * 7
    status, body, _ = fake.handle_api(
        fake.token,
        "sendMessage",
        {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": [1]}'},
    )
    assert status == 400 and b"Array of Arrays" in body
    status, body, _ = fake.handle_api(
        fake.token,
        "sendMessage",
        {"chat_id": "1", "text": "x", "reply_markup": '{"inline_keyboard": [[{"text": "t"}]]}'},
    )
    assert status == 400 and b"Text buttons are unallowed" in body
    status, body, _ = fake.handle_api(fake.token, "noSuchMethod", {})
    assert status == 404 and json.loads(body) == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found",
    }


async def test_scripted_chats(fake: FakeTelegram) -> None:
    fake.script_chat(1, "blocked")
    fake.script_chat(2, "deactivated")
    fake.script_chat(-3, "kicked")
    fake.script_chat(4, "not_found")
    fake.script_chat(-5, "migrated", new_chat_id=-1005)
    fake.script_chat(6, "error", status=500, times=1)
    fake.script_chat(7, "error", status=502)
    async with make_bot(fake) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(1, "x")
        with pytest.raises(Forbidden, match="user is deactivated"):
            await bot.send_message(2, "x")
        with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
            await bot.send_message(-3, "x")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(4, "x")
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(-5, "x")
        assert migrated.value.new_chat_id == -1005
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(6, "x")
        await bot.send_message(6, "x")  # `times=1` has run out
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(7, "x")
        fake.force_429(2, retry_after=3)
        for _ in range(2):
            with pytest.raises(RetryAfter) as retry:
                await bot.send_message(8, "x")
            assert "Retry in 3 seconds" in retry.value.message
        await bot.send_message(8, "x")
    assert fake.count_429 == 2
    assert [s.chat_id for s in fake.sent] == [6, 8]


async def test_slow_chat_delays_the_answer(fake: FakeTelegram) -> None:
    fake.script_chat(9, "slow", delay=0.3, times=1)
    async with make_bot(fake) as bot:
        await bot.send_message(9, "x")
    assert fake.messages_for(9)


async def test_limits_are_enforced_in_sliding_windows() -> None:
    with FakeTelegram(enforce_limits=True, global_per_second=2, group_per_minute=2) as fake:
        async with make_bot(fake) as bot:
            await bot.send_message(1, "a")
            with pytest.raises(RetryAfter):
                await bot.send_message(1, "b")  # 1 per second per private chat
            await bot.send_message(-2, "a")
            with pytest.raises(RetryAfter):
                await bot.send_message(2, "a")  # the third in one second overall
        fake.enforce_limits = False
        async with make_bot(fake) as bot:
            await bot.send_message(-2, "b")
        report = fake.limit_report()
        assert fake.count_429 == 2
        assert report["max_private_per_second"] == 1
        assert report["max_group_per_minute"] == 2
        assert report["max_global_per_second"] == 3  # the last send was not held back
        assert len(fake.send_times(-2)) == 2


def test_max_in_window_is_half_open() -> None:
    assert max_in_window([0.0, 1.0, 2.0], 1.0) == 1
    assert max_in_window([0.0, 0.5, 0.99, 1.0], 1.0) == 3
    assert max_in_window([], 1.0) == 0


async def test_long_poll_returns_pushed_updates_and_confirms_by_offset(fake: FakeTelegram) -> None:
    pusher = threading.Thread(
        target=lambda: (
            wait_for_sync(lambda: fake.calls["getUpdates"] >= 1),
            fake.push_message(5, 5, "/start p33", first_name="Lan"),
        )
    )
    pusher.start()
    async with make_bot(fake) as bot:
        updates = await bot.get_updates(timeout=5, allowed_updates=["message", "callback_query"])
        pusher.join()
        assert len(updates) == 1 and isinstance(updates[0], Update)
        message = updates[0].message
        assert message.text == "/start p33" and message.chat.type == "private"
        assert message.from_user.first_name == "Lan" and message.from_user.language_code == "vi"
        assert message.entities[0].type == "bot_command" and message.entities[0].length == 6
        assert len(await bot.get_updates(timeout=0)) == 1  # not confirmed yet
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()


async def test_callbacks_edits_and_answers(fake: FakeTelegram) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("1", callback_data="p:1")]])
    async with make_bot(fake) as bot:
        sent = await bot.send_message(5, "chọn", reply_markup=markup)
        query_id = fake.push_callback(5, 5, "p:1", sent.message_id)
        (update,) = await bot.get_updates()
        query = update.callback_query
        assert query.id == query_id and query.data == "p:1"
        assert query.message.message_id == sent.message_id and query.message.text == "chọn"
        await bot.answer_callback_query(query.id, "Đã chọn")
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query.id)
        edited = await bot.edit_message_text("<b>xong</b>", 5, sent.message_id, parse_mode="HTML")
        assert edited.text == "xong" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("<b>xong</b>", 5, sent.message_id, parse_mode="HTML")
        await bot.edit_message_reply_markup(5, sent.message_id, reply_markup=markup)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", 5, 999)
    assert fake.callback_answers[query_id] == {"text": "Đã chọn", "show_alert": False}
    assert [s.method for s in fake.messages_for(5)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
    ]


async def test_photos_documents_and_file_downloads(fake: FakeTelegram) -> None:
    opml = b"<opml><body><outline xmlUrl='http://x'/></body></opml>"
    async with make_bot(fake) as bot:
        photo = await bot.send_photo(5, PNG, caption="<b>Biểu đồ</b>", parse_mode="HTML")
        assert photo.caption == "Biểu đồ" and photo.photo[-1].width == 800
        document = await bot.send_document(5, opml, filename="nguồn.opml")
        assert document.document.file_name == "nguồn.opml"
        fake.push_document(5, 5, "feeds.opml", opml, caption="/import")
        (update,) = await bot.get_updates()
        file = await bot.get_file(update.message.document.file_id)
        assert file.file_path.startswith(fake.file_base_url)
        assert bytes(await file.download_as_bytearray()) == opml
    assert fake.messages_for(5)[0].photo == PNG
    assert (
        fake.messages_for(5)[1].document == opml
        and fake.messages_for(5)[1].filename == "nguồn.opml"
    )


async def test_commands_per_scope_and_members(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        await bot.set_my_commands([BotCommand("start", "Bắt đầu")])
        await bot.set_my_commands(
            [BotCommand("feeds", "Nguồn tin")], scope=BotCommandScopeChat(77), language_code="vi"
        )
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        fake.set_chat_member(-100, 5, "administrator")
        fake.set_chat_member(-100, 6, "creator")
        member = await bot.get_chat_member(-100, 5)
        assert member.status == "administrator"
        assert (await bot.get_chat_member(-100, 8)).status == "member"
        admins = await bot.get_chat_administrators(-100)
        assert sorted(a.user.id for a in admins) == [5, 6]
        chat = await bot.get_chat(-100)
        assert chat.type == "group"
        await bot.send_chat_action(5, "typing")
    assert fake.commands == {
        ("default", ""): [("start", "Bắt đầu")],
        ("chat:77", "vi"): [("feeds", "Nguồn tin")],
    }
    assert fake.chat_actions == [(5, "typing")]


async def test_migration_and_chat_member_updates(fake: FakeTelegram) -> None:
    fake.push_message(5, -200, "/sub x", title="Tổ dân phố")
    fake.push_migration(-200, -1000000000200, user_id=5)
    fake.push_chat_member(-300, 5, "member", "left", title="Nhóm mới")
    async with make_bot(fake) as bot:
        updates = await bot.get_updates()
        assert updates[0].message.chat.type == "group"
        assert updates[1].message.migrate_to_chat_id == -1000000000200
        assert updates[2].message.migrate_from_chat_id == -200
        assert updates[2].message.chat.type == "supergroup"
        change = updates[3].my_chat_member
        assert change.new_chat_member.status == "member" and change.chat.title == "Nhóm mới"
        with pytest.raises(ChatMigrated):
            await bot.send_message(-200, "x")


def test_sync_clients_with_form_and_json_bodies(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}{fake.token}"
    with httpx.Client() as client:
        form = client.post(
            f"{url}/sendMessage", data={"chat_id": "5", "text": "<i>a</i>", "parse_mode": "HTML"}
        )
        assert form.json()["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 1}]
        body = client.post(f"{url}/sendMessage", json={"chat_id": 5, "text": "b"}).json()
        assert body["ok"] is True and body["result"]["message_id"] == 2
        error = client.get(f"{url}/sendMessage", params={"chat_id": "5"})
        assert error.status_code == 400
        assert error.json() == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message text is empty",
        }
    assert [s.plain for s in fake.wait_for_messages(5, 2)] == ["a", "b"]
    with pytest.raises(TimeoutError):
        fake.wait_for_messages(5, 3, timeout=0.05)


async def test_wait_for_messages_awaits_in_async_code(fake: FakeTelegram) -> None:
    async with make_bot(fake) as bot:
        waiter = fake.wait_for_messages(5, 1)
        await bot.send_message(5, "x")
        assert [s.plain for s in await waiter] == ["x"]


@pytest.mark.slow
def test_standalone_process_with_control_api() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("FAKE_TELEGRAM_READY port=")
        port = int(line.split("=")[1])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            client.post("/_fake/push_message", json={"user_id": 5, "chat_id": 5, "text": "hi"})
            updates = client.get(f"/bot{FakeTelegram().token}/getUpdates").json()["result"]
            assert updates[0]["message"]["text"] == "hi"
            client.post(
                f"/bot{FakeTelegram().token}/sendMessage", data={"chat_id": "5", "text": "yo"}
            )
            state = client.get("/_fake/state").json()
            assert [s["plain"] for s in state["sent"]] == ["yo"]
    finally:
        proc.terminate()
        proc.wait(timeout=5)
