"""Our Zalo Bot API client against the fake: results, and errors however Zalo reports them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from channels.zalo_client import ZaloClient, ZaloError
from tests.fakes.zalo_api import DISCONNECT, QUOTA, QUOTA_HTTP, FakeZaloApi, Reply


@pytest.fixture
def fake() -> Iterator[FakeZaloApi]:
    with FakeZaloApi() as api:
        yield api


@pytest.fixture
async def client(fake: FakeZaloApi) -> AsyncIterator[ZaloClient]:
    zalo = ZaloClient(fake.base_url, fake.token, timeout=5)
    yield zalo
    await zalo.aclose()


async def test_get_me_and_send_message(client: ZaloClient, fake: FakeZaloApi) -> None:
    me = await client.get_me()
    assert me["account_name"] == "bot.Loa"
    result = await client.send_message("a1b2c3", "Xin chào, Loa đây 👋")
    assert result["message_id"]
    assert fake.texts_for("a1b2c3") == ["Xin chào, Loa đây 👋"]


async def test_wrong_token_is_401(fake: FakeZaloApi) -> None:
    wrong = ZaloClient(fake.base_url, "999:not-the-token-at-all", timeout=5)
    try:
        with pytest.raises(ZaloError) as caught:
            await wrong.send_message("a1b2c3", "hi")
    finally:
        await wrong.aclose()
    assert caught.value.code == 401
    assert fake.sent == []


@pytest.mark.parametrize("http_status", [200, 400])
async def test_error_as_ok_false_or_as_http_status(client: ZaloClient, fake: FakeZaloApi,
                                                   http_status: int) -> None:
    fake.script("sendMessage", Reply(400, "Bad Request: something is wrong", http_status))
    with pytest.raises(ZaloError) as caught:
        await client.send_message("a1b2c3", "hi")
    assert (caught.value.code, caught.value.description) == (400, "Bad Request: something is wrong")
    assert caught.value.method == "sendMessage"


async def test_http_error_without_a_json_body_keeps_its_status(client: ZaloClient,
                                                               fake: FakeZaloApi) -> None:
    with pytest.raises(ZaloError) as caught:
        await client.call("noSuchMethod")
    assert caught.value.code == 404


@pytest.mark.parametrize("reply", [QUOTA, QUOTA_HTTP])
async def test_quota_exceeded_is_429(client: ZaloClient, fake: FakeZaloApi, reply: Reply) -> None:
    fake.script("sendMessage", reply)
    with pytest.raises(ZaloError) as caught:
        await client.send_message("a1b2c3", "hi")
    assert caught.value.code == 429
    await client.send_message("a1b2c3", "hi again")  # the storm was one reply long
    assert fake.texts_for("a1b2c3") == ["hi again"]


async def test_text_over_2000_is_refused(client: ZaloClient, fake: FakeZaloApi) -> None:
    await client.send_message("a1b2c3", "ô" * 2000)
    with pytest.raises(ZaloError) as caught:
        await client.send_message("a1b2c3", "ô" * 2001)
    assert caught.value.code == 400 and "2000" in caught.value.description


async def test_no_answer_has_no_code_and_never_shows_the_token(client: ZaloClient,
                                                                fake: FakeZaloApi) -> None:
    fake.script("sendMessage", DISCONNECT)
    with pytest.raises(ZaloError) as caught:
        await client.send_message("a1b2c3", "hi")
    assert caught.value.code is None
    assert fake.token not in str(caught.value) and fake.token not in caught.value.description


async def test_get_updates_returns_one_event(client: ZaloClient, fake: FakeZaloApi) -> None:
    fake.push_text("u1", "/start")
    fake.push_text("u2", "/help")
    first = await client.get_updates(timeout=5)
    second = await client.get_updates(timeout=5)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["event_name"] == "message.text.received"
    assert (first["message"]["text"], second["message"]["text"]) == ("/start", "/help")
    assert first["message"]["chat"] == {"id": "u1", "chat_type": "PRIVATE"}


@pytest.mark.parametrize("http_status", [200, 408])
async def test_empty_poll_408_is_none(http_status: int) -> None:
    with FakeZaloApi(empty_poll_http_status=http_status) as fake:
        client = ZaloClient(fake.base_url, fake.token, timeout=5)
        try:
            started = time.monotonic()
            assert await client.get_updates(timeout=1) is None
            assert time.monotonic() - started >= 0.9  # it was a long poll, not an instant answer
        finally:
            await client.aclose()


async def test_long_poll_returns_as_soon_as_an_event_arrives(client: ZaloClient,
                                                             fake: FakeZaloApi) -> None:
    poll = asyncio.create_task(client.get_updates(timeout=30))
    await asyncio.sleep(0)  # let the poll start before the event is pushed
    fake.push_text("u1", "xin chào")
    event = await poll
    assert event is not None and event["message"]["text"] == "xin chào"


async def test_webhook_methods(client: ZaloClient, fake: FakeZaloApi) -> None:
    await client.set_webhook("https://loa.example/zalo/webhook", "s3cret-s3cret")
    assert (await client.get_webhook_info())["url"] == "https://loa.example/zalo/webhook"
    with pytest.raises(ZaloError):  # the two modes exclude each other
        await client.get_updates(timeout=1)
    with pytest.raises(ZaloError) as caught:
        await client.set_webhook("https://loa.example/zalo/webhook", "short")
    assert caught.value.code == 400
    await client.delete_webhook()
    assert (await client.get_webhook_info())["url"] == ""


async def test_send_photo_by_url_and_chat_action(client: ZaloClient, fake: FakeZaloApi) -> None:
    fake.fetch_photos = False
    await client.send_photo("a1b2c3", "https://loa.example/media/x.png", "Biểu đồ")
    await client.send_chat_action("a1b2c3")
    sent = fake.messages_for("a1b2c3")
    assert [(m.method, m.photo, m.text) for m in sent] == [
        ("sendPhoto", "https://loa.example/media/x.png", "Biểu đồ")]
    assert fake.calls_of("sendChatAction") == [{"chat_id": "a1b2c3", "action": "typing"}]
