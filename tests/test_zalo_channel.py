"""The Zalo channel: plain text within 2000 units, photos by URL, and every answer as an Outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from channels.zalo import QuotaBackoff, ZaloChannel, split_plain
from channels.zalo_client import ZaloClient, ZaloError
from channels.zalo_http import HttpServer, MediaStore
from model.channel import Button, Markup, OutMessage, Status
from tests.conftest import make_settings
from tests.fakes.zalo_api import DISCONNECT, PASS, FakeZaloApi, Reply
from vntext import utf16_len

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
CHAT = "8f3e2a9b7c6d5e4f"


@pytest.fixture
def fake() -> Iterator[FakeZaloApi]:
    with FakeZaloApi() as api:
        yield api


def _channel(
    fake: FakeZaloApi, media: MediaStore | None = None, **overrides: object
) -> ZaloChannel:
    settings = make_settings("sqlite:///unused.db", **(fake.settings_overrides() | overrides))
    return ZaloChannel(settings, ZaloClient(fake.base_url, fake.token, timeout=5), media)


@pytest.fixture
async def channel(fake: FakeZaloApi) -> AsyncIterator[ZaloChannel]:
    zalo = _channel(fake)
    yield zalo
    await zalo.close()


@pytest.fixture
async def media_channel(fake: FakeZaloApi) -> AsyncIterator[tuple[ZaloChannel, MediaStore]]:
    """A channel with PUBLIC_BASE_URL pointing at a real media server on 127.0.0.1."""
    server = HttpServer("127.0.0.1", 0, media=None, webhook=None)
    await server.start()
    server.media = media = MediaStore(f"http://127.0.0.1:{server.port}")
    zalo = _channel(fake, media)
    yield zalo, media
    await zalo.close()
    await server.stop()


def test_capabilities_follow_the_zalo_settings() -> None:
    settings = make_settings("sqlite:///unused.db", zalo_global_per_second=3,
                             zalo_private_per_second=0.25, zalo_group_per_minute=6)
    caps = ZaloChannel(settings, ZaloClient("http://127.0.0.1:9/bot", "t")).capabilities
    assert (caps.max_text_units, caps.markup, caps.buttons, caps.edits) == (
        2000,
        Markup.PLAIN,
        False,
        False,
    )
    assert (caps.global_per_second, caps.private_per_second, caps.group_per_minute) == (3, 0.25, 6)


def test_split_plain_cuts_between_items_within_the_limit() -> None:
    items = [f"{n}. Tin số {n} về Đại đoàn kết 🇻🇳\nhttps://loa.example/{n}" for n in range(60)]
    text = "\n\n".join(items)
    parts = split_plain(text, 2000)
    assert len(parts) > 1
    assert all(utf16_len(part) <= 2000 for part in parts)
    # Every item is whole in exactly one part.
    for item in items:
        assert sum(item in part for part in parts) == 1
    assert "\n\n".join(parts) == text


def test_split_plain_falls_back_to_lines_words_and_hard_cuts() -> None:
    assert split_plain("ngắn") == ["ngắn"]
    assert split_plain("   ") == []
    lines = "\n".join(["dòng " * 30] * 30)
    assert all(utf16_len(p) <= 500 for p in split_plain(lines, 500))
    emoji = "😀" * 1500  # 3000 UTF-16 units, no spaces
    parts = split_plain(emoji, 2000)
    assert [utf16_len(p) for p in parts] == [2000, 1000]
    assert "".join(parts) == emoji


async def test_html_becomes_plain_text_and_buttons_are_dropped(channel: ZaloChannel,
                                                               fake: FakeZaloApi) -> None:
    message = OutMessage(
        text='<b>Tin mới</b> &amp; nổi bật: <a href="https://loa.example/1">Nhà Đại đoàn kết</a>',
        buttons=[[Button("Tạm dừng", "ls:pa:1")]],
    )
    outcome = await channel.send(CHAT, message)
    assert outcome.status is Status.OK and outcome.message_id
    [text] = fake.texts_for(CHAT)
    assert "<" not in text and "&amp;" not in text
    assert "Tin mới & nổi bật: Nhà Đại đoàn kết" in text and "https://loa.example/1" in text
    assert (await channel.answer_button("cb1")).ok


async def test_long_text_goes_in_parts_at_item_boundaries(channel: ZaloChannel,
                                                          fake: FakeZaloApi) -> None:
    items = [
        f"<b>{n}. Tin tỉnh An Giang số {n}</b>\n" + "Nội dung tóm tắt. " * 8 for n in range(40)
    ]
    outcome = await channel.send(CHAT, OutMessage(text="\n\n".join(items)))
    assert outcome.status is Status.OK and "parts" in outcome.detail
    texts = fake.texts_for(CHAT)
    assert len(texts) >= 3 and all(utf16_len(t) <= 2000 for t in texts)
    assert all(t.startswith(tuple(f"{n}. " for n in range(40))) for t in texts)


async def test_a_retried_long_message_never_repeats_a_part(channel: ZaloChannel,
                                                           fake: FakeZaloApi) -> None:
    message = OutMessage(
        text="\n\n".join(f"Mục {n}: " + " ".join(["chữ"] * 150) for n in range(12))
    )
    # The second part meets a 5xx: the first went out, and the retry does not send it again.
    fake.script("sendMessage", PASS, Reply(502, "Bad Gateway", 502))
    first = await channel.send(CHAT, message)
    assert first.status is Status.TRANSIENT
    assert len(fake.texts_for(CHAT)) == 1
    second = await channel.send(CHAT, message)
    assert second.ok
    texts = fake.texts_for(CHAT)
    assert len(texts) >= 3 and all(utf16_len(t) <= 2000 for t in texts)
    assert "\n\n".join(texts) == message.text  # every part exactly once, in order


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(403, "Forbidden: the user has blocked the bot"), Status.GONE),
        (Reply(400, "Bad Request: user not found"), Status.GONE),
        (Reply(404, "Not Found", 404), Status.GONE),
        (Reply(400, "Bad Request: text is invalid"), Status.BAD_CONTENT),
        (Reply(500, "Internal Server Error"), Status.TRANSIENT),
        (Reply(503, "Service Unavailable", 503), Status.TRANSIENT),
        (Reply(408, "Request Timeout", 408), Status.TRANSIENT),
        (DISCONNECT, Status.TRANSIENT),
        (Reply(401, "Unauthorized"), Status.AUTH),
    ],
)
async def test_each_zalo_answer_maps_to_one_outcome(channel: ZaloChannel, fake: FakeZaloApi,
                                                    reply: Reply, status: Status) -> None:
    fake.script("sendMessage", reply)
    outcome = await channel.send(CHAT, OutMessage(text="Xin chào"))
    assert outcome.status is status
    assert outcome.detail.startswith("Zalo sendMessage:")
    assert fake.token not in outcome.detail


async def test_wrong_token_is_auth(fake: FakeZaloApi) -> None:
    zalo = _channel(fake)
    zalo.client = ZaloClient(fake.base_url, "1:wrong-token-wrong-token", timeout=5)
    try:
        assert (await zalo.send(CHAT, OutMessage(text="Xin chào"))).status is Status.AUTH
    finally:
        await zalo.close()


async def test_too_long_for_zalo_is_bad_content_not_a_retry(channel: ZaloChannel,
                                                             fake: FakeZaloApi) -> None:
    # The channel splits its own text, so only a caller bypassing it can hit Zalo's limit.
    with pytest.raises(ZaloError) as caught:
        await channel.client.send_message(CHAT, "a" * 2001)
    assert caught.value.code == 400
    assert (await channel.send(CHAT, OutMessage(text=""))).status is Status.BAD_CONTENT


async def test_quota_429_backs_off_on_our_side(fake: FakeZaloApi) -> None:
    now = [100.0]
    zalo = _channel(fake, zalo_quota_backoff_seconds=2, zalo_quota_backoff_max_seconds=60)
    zalo.backoff.clock = lambda: now[0]
    try:
        fake.quota_storm(1)
        first = await zalo.send(CHAT, OutMessage(text="một"))
        assert first.status is Status.RETRY_AFTER and first.retry_after == 2
        # While we back off nothing goes to Zalo at all: the quota is the bot's, not the chat's.
        calls = len(fake.calls_of("sendMessage"))
        now[0] += 0.5
        waiting = await zalo.send("another-chat", OutMessage(text="hai"))
        assert waiting.status is Status.RETRY_AFTER and waiting.retry_after == 1.5
        assert len(fake.calls_of("sendMessage")) == calls
        now[0] += 1.5
        fake.quota_storm(1)
        second = await zalo.send(CHAT, OutMessage(text="một"))
        assert second.retry_after == 4  # doubled: a second 429 in a row
        now[0] += 4
        assert (await zalo.send(CHAT, OutMessage(text="một"))).ok
        assert fake.texts_for(CHAT) == ["một"]
    finally:
        await zalo.close()


def test_quota_backoff_doubles_caps_and_eases() -> None:
    now = [0.0]
    backoff = QuotaBackoff(2, 10, clock=lambda: now[0])
    assert backoff.hit() == 2
    assert backoff.hit() == 2  # a 429 for a call made during the wait does not lengthen it
    now[0] += 2
    assert backoff.hit() == 4
    now[0] += 4
    assert backoff.hit() == 8
    now[0] += 8
    assert backoff.hit() == 10
    now[0] += 10
    backoff.success()
    assert backoff.hit() == 10  # eased by one step, not reset
    now[0] += 10
    for _ in range(5):
        backoff.success()
    assert backoff.hit() == 2


async def test_photo_is_served_under_the_public_url_and_sent_by_url(
    media_channel: tuple[ZaloChannel, MediaStore], fake: FakeZaloApi
) -> None:
    zalo, media = media_channel
    outcome = await zalo.send(CHAT, OutMessage(text="<b>Báo cáo</b> An Giang", photo=PNG))
    assert outcome.ok
    [sent] = fake.messages_for(CHAT)
    assert sent.method == "sendPhoto" and sent.text == "Báo cáo An Giang"
    assert sent.photo is not None and sent.photo.startswith(media.public_base_url + "/media/")
    assert sent.photo.endswith(".png")
    assert sent.photo_bytes == PNG  # Zalo could fetch it


async def test_photo_url_is_passed_through_and_long_caption_follows_as_text(
    media_channel: tuple[ZaloChannel, MediaStore], fake: FakeZaloApi
) -> None:
    zalo, media = media_channel
    url = media.put(PNG)
    caption = "\n\n".join(f"Chủ đề {n}: {n * 3} tin" + " …" * 80 for n in range(20))
    assert (await zalo.send(CHAT, OutMessage(text=caption, photo_url=url))).ok
    sent = fake.messages_for(CHAT)
    assert sent[0].method == "sendPhoto" and sent[0].photo == url and sent[0].text == ""
    assert "\n\n".join(m.text for m in sent[1:]) == caption


async def test_without_public_base_url_only_the_caption_is_sent(channel: ZaloChannel,
                                                                fake: FakeZaloApi) -> None:
    assert (await channel.send(CHAT, OutMessage(text="Biểu đồ tuần", photo=PNG))).ok
    assert [(m.method, m.text) for m in fake.messages_for(CHAT)] == [
        ("sendMessage", "Biểu đồ tuần")
    ]
    skipped = await channel.send(CHAT, OutMessage(photo=PNG))
    assert skipped.ok and "PUBLIC_BASE_URL" in skipped.detail


async def test_a_file_is_offered_as_a_link(media_channel: tuple[ZaloChannel, MediaStore],
                                           fake: FakeZaloApi, channel: ZaloChannel) -> None:
    zalo, media = media_channel
    opml = b"<?xml version='1.0'?><opml version='2.0'></opml>"
    assert (
        await zalo.send(CHAT, OutMessage(text="Danh sách nguồn", document=("loa.opml", opml)))
    ).ok
    [text] = fake.texts_for(CHAT)
    assert text.startswith("Danh sách nguồn\nloa.opml: " + media.public_base_url + "/media/")
    assert media.get(text.rsplit("/", 1)[1]) == ("text/x-opml; charset=utf-8", opml)
    refused = await channel.send(CHAT, OutMessage(document=("loa.opml", opml)))
    assert refused.status is Status.BAD_CONTENT


async def test_media_server_serves_only_known_names(
    media_channel: tuple[ZaloChannel, MediaStore],
) -> None:
    _, media = media_channel
    url = media.put(PNG)
    assert media.put(PNG) == url  # the same content keeps its URL
    async with httpx.AsyncClient() as http:
        found = await http.get(url)
        assert (found.status_code, found.headers["content-type"], found.content) == (
            200,
            "image/png",
            PNG,
        )
        head = await http.head(url)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(PNG))
        assert (await http.get(url.rsplit("/", 1)[0] + "/guessed.png")).status_code == 404
        assert (await http.post(url)).status_code == 405
        assert (await http.get(media.public_base_url + "/zalo/webhook")).status_code == 404
