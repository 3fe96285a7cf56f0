"""Zalo inbound: long polling and webhook intake, the secret header, order, duplicates, and replies
that ride out a quota storm. The handlers are replaced by an echo here; the real ones are
exercised in test_zalo_flows.py."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from channels import inbound, zalo_app
from channels.inbound import Dispatch
from channels.zalo_app import start_zalo, stop_zalo
from channels.zalo_events import to_incoming
from config import ConfigError
from handlers.types import Incoming, Result
from model.channel import OutMessage
from runtime import App, open_app
from services.chats import ensure_chat
from storage.models import Chat
from tests.conftest import make_settings
from tests.fakes.zalo_api import DISCONNECT, FakeZaloApi, Reply, message_event
from tests.waiting import wait_for

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def fake() -> Iterator[FakeZaloApi]:
    with FakeZaloApi() as api:
        yield api


@pytest.fixture
def echo() -> list[Incoming]:
    """What the echo handlers below were given."""
    return []


def _echo(seen: list[Incoming]) -> Dispatch:
    async def dispatch(app: App, msg: Incoming) -> Result:
        seen.append(msg)
        if msg.text.startswith("/slow"):
            await asyncio.sleep(float(msg.text.split()[1]))
        return Result(messages=[OutMessage(text=f"<b>echo</b>: {msg.text}")])

    return dispatch


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _serving(sqlite_url: str, fake: FakeZaloApi, dispatch: Dispatch,
                   **overrides: object) -> AsyncIterator[App]:
    app = open_app(
        make_settings(
            sqlite_url, **fake.settings_overrides(), zalo_poll_timeout_seconds=1, **overrides
        )
    )
    handle = await start_zalo(app, dispatch=dispatch)
    try:
        yield app
    finally:
        await stop_zalo(handle)
        await app.close()


@pytest.fixture
async def polling_app(
    sqlite_url: str, fake: FakeZaloApi, echo: list[Incoming]
) -> AsyncIterator[App]:
    async with _serving(sqlite_url, fake, _echo(echo), zalo_quota_backoff_seconds=0.05,
                        zalo_quota_backoff_max_seconds=0.2) as app:
        yield app


@pytest.fixture
async def webhook_app(
    sqlite_url: str, fake: FakeZaloApi, echo: list[Incoming]
) -> AsyncIterator[App]:
    port = _free_port()
    app = open_app(make_settings(
        sqlite_url, **fake.settings_overrides(), zalo_mode="webhook", zalo_webhook_secret=SECRET,
        public_base_url=f"http://127.0.0.1:{port}", zalo_listen_port=port,
    ))
    handle = await start_zalo(app, dispatch=_echo(echo))
    await asyncio.wait_for(asyncio.gather(*handle.tasks), 10)  # the webhook is registered
    yield app
    await stop_zalo(handle)
    await app.close()


def test_events_become_incoming_messages() -> None:
    text = message_event(
        "message.text.received", "u1", "u1", "PRIVATE", "Lan", text="/sub an giang"
    )
    incoming = to_incoming(text)
    assert incoming == Incoming(channel="zalo", chat_key="u1", user_key="u1", text="/sub an giang",
                                chat_kind="private", user_name="Lan")
    group = to_incoming({"ok": True, "result": message_event(
        "message.text.received", "u1", "g7", "GROUP", "Lan", text="/latest")})
    assert group is not None and (group.chat_key, group.user_key, group.chat_kind) == (
        "g7",
        "u1",
        "group",
    )
    photo = message_event("message.image.received", "u1", "u1", "PRIVATE", "Lan",
                          photo_url="https://x/1.jpg", caption="/search lũ")
    assert to_incoming(photo).text == "/search lũ"  # type: ignore[union-attr]
    for ignored in (
        message_event("message.image.received", "u1", "u1", "PRIVATE", "Lan", photo_url="https://x/1.jpg"),
        message_event("message.sticker.received", "u1", "u1", "PRIVATE", "Lan", sticker="abc"),
        message_event("message.text.received", "u1", "u1", "PRIVATE", "Lan", text="   "),
        {"event_name": "message.text.received", "message": {"text": "hi"}},
        {"event_name": "message.text.received", "message": "garbage"},
        {},
        message_event("message.text.received", "u1\x00", "u1", "PRIVATE", "Lan", text="/id"),
        message_event("message.text.received", "u1", "g" * 65, "GROUP", "Lan", text="/id"),
    ):
        assert to_incoming(ignored) is None


async def test_polling_answers_each_message(polling_app: App, fake: FakeZaloApi,
                                            echo: list[Incoming]) -> None:
    assert "zalo" in polling_app.channels
    fake.push_text("a1b2", "/start", display_name="Lan")
    [reply] = await fake.wait_for_messages("a1b2", 1)
    assert reply.text == "echo: /start"  # plain text, not HTML
    assert echo[0].user_name == "Lan" and echo[0].channel == "zalo"
    names = [name for name, _ in fake.calls]
    assert names.index("deleteWebhook") < names.index("getUpdates")  # the modes exclude each other


async def test_empty_polls_and_errors_do_not_stop_polling(
    polling_app: App, fake: FakeZaloApi, echo: list[Incoming], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zalo_app, "POLL_BACKOFF_START", 0.05)
    await wait_for(lambda: len(fake.calls_of("getUpdates")) >= 2)  # empty polls answered 408
    fake.script("getUpdates", Reply(500, "Internal Server Error", 500), DISCONNECT,
                Reply(429, "quota exceeded"))
    await wait_for(lambda: fake.scripted_left("getUpdates") == 0)
    fake.push_text("a1b2", "/help")
    [reply] = await fake.wait_for_messages("a1b2", 1)
    assert reply.text == "echo: /help"


async def test_one_chat_in_order_many_chats_at_once(polling_app: App, fake: FakeZaloApi,
                                                    echo: list[Incoming]) -> None:
    for n in range(5):  # the earlier ones take longer: order must still hold
        fake.push_text("a1b2", f"/slow {0.05 * (5 - n)} #{n}")
    fake.push_text("c3d4", "/help")
    replies = await fake.wait_for_messages("a1b2", 5)
    assert [m.text.rsplit("#", 1)[1] for m in replies] == ["0", "1", "2", "3", "4"]
    # The other chat was not held up behind the slow one.
    assert fake.messages_for("c3d4")[0].at < replies[-1].at


async def test_slow_command_shows_typing(polling_app: App, fake: FakeZaloApi, echo: list[Incoming],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbound, "TYPING_AFTER", 0.05)
    fake.push_text("a1b2", "/slow 0.3")
    await fake.wait_for_messages("a1b2", 1)
    assert fake.calls_of("sendChatAction") == [{"chat_id": "a1b2", "action": "typing"}]


async def test_quota_storm_delays_replies_but_loses_none(polling_app: App, fake: FakeZaloApi,
                                                         echo: list[Incoming]) -> None:
    fake.quota_storm(8)
    for n in range(4):
        fake.push_text("a1b2", f"tin {n}")
    replies = await fake.wait_for_messages("a1b2", 4)
    assert [m.text for m in replies] == [f"echo: tin {n}" for n in range(4)]
    assert fake.count_429 == 8
    assert len(fake.messages_for("a1b2")) == 4  # and none twice


async def test_webhook_takes_events_with_the_right_secret(webhook_app: App, fake: FakeZaloApi,
                                                          echo: list[Incoming]) -> None:
    assert fake.webhook_url == f"{webhook_app.settings.public_base_url}/zalo/webhook"
    assert fake.webhook_secret == SECRET
    fake.push_text("a1b2", "/start")
    [reply] = await fake.wait_for_messages("a1b2", 1)
    assert reply.text == "echo: /start"
    assert [p.status for p in fake.webhook_posts] == [200]


async def test_webhook_refuses_a_wrong_or_missing_secret(webhook_app: App, fake: FakeZaloApi,
                                                         echo: list[Incoming]) -> None:
    forged = message_event("message.text.received", "evil", "evil", "PRIVATE", "x", text="/stop")
    fake.post_to_webhook(forged, "not-the-secret")
    fake.post_to_webhook(forged, None)
    posts = await fake.wait_for_webhook_posts(2)
    assert [p.status for p in posts] == [403, 403]
    fake.push_text("a1b2", "/start")  # a genuine one after them is still served
    await fake.wait_for_messages("a1b2", 1)
    assert echo and all(m.user_key != "evil" for m in echo)
    assert fake.messages_for("evil") == []


async def test_a_redelivered_event_is_handled_once(webhook_app: App, fake: FakeZaloApi,
                                                   echo: list[Incoming]) -> None:
    event = message_event("message.text.received", "a1b2", "a1b2", "PRIVATE", "Lan", text="/list")
    fake.push_event(event)
    fake.push_event(event)  # Zalo retried it
    fake.push_text("a1b2", "/help")
    await fake.wait_for_messages("a1b2", 2)
    await fake.wait_for_webhook_posts(3)
    assert [m.text for m in fake.messages_for("a1b2")] == ["echo: /list", "echo: /help"]


async def test_bad_webhook_bodies_get_400(webhook_app: App) -> None:
    url = f"{webhook_app.settings.public_base_url}/zalo/webhook"
    headers = {"X-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient() as http:
        assert (await http.post(url, content=b"{not json", headers=headers)).status_code == 400
        assert (await http.post(url, json=[1, 2], headers=headers)).status_code == 400
        assert (await http.get(url, headers=headers)).status_code == 405
        assert (await http.post(url, json={"event_name": "x"}, headers=headers)).status_code == 200
        # A body over 1 MiB is refused before it is read whole; unknown paths are 404.
        huge = b'{"x": "' + b"a" * (1 << 20) + b'"}'
        assert (await http.post(url, content=huge, headers=headers)).status_code == 413
        assert (await http.get(url.replace("/zalo/webhook", "/other"))).status_code == 404


async def test_a_rejected_token_stops_start_up(sqlite_url: str, fake: FakeZaloApi) -> None:
    app = open_app(make_settings(sqlite_url, zalo_bot_token="1:revoked-token-revoked-token",
                                 zalo_api_base_url=fake.base_url))
    try:
        with pytest.raises(ConfigError, match="ZALO_BOT_TOKEN"):
            await start_zalo(app)
        assert "zalo" not in app.channels
    finally:
        await app.close()


async def test_a_port_in_use_stops_start_up_with_one_line(
    sqlite_url: str, fake: FakeZaloApi
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = open_app(make_settings(sqlite_url, **fake.settings_overrides(), zalo_listen_port=port,
                                     public_base_url="https://loa.example"))
        try:
            with pytest.raises(
                ConfigError, match=f"ZALO_LISTEN_PORT: cannot listen on 127.0.0.1:{port}"
            ):
                await start_zalo(app)
            assert "zalo" not in app.channels
        finally:
            await app.close()


async def test_webhook_mode_needs_its_secret_and_public_url(sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="ZALO_WEBHOOK_SECRET and PUBLIC_BASE_URL"):
        make_settings(sqlite_url, zalo_mode="webhook", zalo_bot_token="1:x")
    with pytest.raises(ConfigError, match="8 to 256"):
        make_settings(sqlite_url, zalo_webhook_secret="short")



async def test_flood_limit_warns_once_then_drops(sqlite_url: str, fake: FakeZaloApi) -> None:
    seen: list[Incoming] = []
    async with _serving(sqlite_url, fake, _echo(seen), command_flood_per_minute=3):
        for n in range(6):
            fake.push_text("u1", f"/latest {n}", chat_id="g1", chat_type="GROUP")
        fake.push_text("u2", "/help", chat_id="g1", chat_type="GROUP")  # someone else, same group
        await fake.wait_for_text("g1", "echo: /help")  # the group's messages are handled in order
    assert fake.texts_for("g1") == ["echo: /latest 0", "echo: /latest 1", "echo: /latest 2",
                                    "Bạn gửi lệnh nhanh quá. Vui lòng đợi một phút rồi thử lại.",
                                    "echo: /help"]


async def test_a_failing_handler_gets_an_apology(sqlite_url: str, fake: FakeZaloApi) -> None:
    async def broken(app: App, msg: Incoming) -> Result:
        if msg.text == "/boom":
            raise RuntimeError("a bug")
        return Result(messages=[OutMessage(text="ok")])

    async with _serving(sqlite_url, fake, broken):
        fake.push_text("u1", "/boom")
        fake.push_text("u1", "/help")
        replies = await fake.wait_for_messages("u1", 2)
    assert [m.text for m in replies] == [
        "Xin lỗi, Loa gặp lỗi khi xử lý yêu cầu này. Bạn vui lòng thử lại sau ít phút.", "ok"]


async def test_a_reply_to_a_blocked_chat_marks_it_inactive(sqlite_url: str, fake: FakeZaloApi,
                                                           echo: list[Incoming]) -> None:
    async with _serving(sqlite_url, fake, _echo(echo)) as app:
        chat = await ensure_chat(app, "zalo", "u1")
        fake.block("u1")
        fake.push_text("u1", "/list")

        async def inactive() -> bool:
            async with app.sessions() as session:
                row = await session.get(Chat, chat.id, populate_existing=True)
                return row is not None and not row.active

        await wait_for(inactive)
        assert fake.messages_for("u1") == []
