"""The whole bot end to end on Zalo, over real sockets: `start_services` (as `bot.py run` starts it:
delivery, the channels whose tokens are set, the poller) against the fake Zalo Bot API and the local
feed server. People type to the fake, as a phone would, and every test waits (with a timeout) for
what the bot sends back. Nothing the bot sends may break Zalo's rules (plain text, 2000 units)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cli.run import Running, start_services
from config import Settings
from render.texts import t
from services import sources
from storage.models import AuditLog, Chat, Item, Source, Subscription, User
from tests.conftest import count_rows, make_settings
from tests.delivery_support import add_item, add_source
from tests.e2e_support import WAIT, FeedItem, TgUser, e2e_settings, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZaloApi, Sent
from tests.waiting import wait_for
from vntext import utf16_len

pytestmark = pytest.mark.slow

CITIZEN = "8f3e2a9b7c6d5e4f"  # Zalo ids are opaque hex strings
ADMIN = "a0b1c2d3e4f5a6b7"
OFFICIAL = "0c1d2e3f4a5b6c7d"


@pytest.fixture
def fake_zalo() -> Iterator[FakeZaloApi]:
    with FakeZaloApi() as api:
        yield api


def zalo_settings(db_url: str, fake: FakeZaloApi, **overrides: object) -> Settings:
    """The bot on `db_url`, talking to `fake`, polling and delivering at test pace; per-chat pacing
    is lifted (a scripted person types faster than a human)."""
    values: dict[str, object] = {
        **fake.settings_overrides(),
        "zalo_poll_timeout_seconds": 1,
        "zalo_private_per_second": 100.0,
        "zalo_group_per_minute": 1000,
        "zalo_global_per_second": 50,
        "zalo_quota_backoff_seconds": 0.02,
        "zalo_quota_backoff_max_seconds": 0.1,
        "poll_interval_seconds": 1,
        "poll_min_interval_seconds": 1,
        "delivery_poll_seconds": 0.05,
        "delivery_retry_base_seconds": 0.05,
        "http_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return make_settings(db_url, **values)


@asynccontextmanager
async def bot(settings: Settings) -> AsyncIterator[Running]:
    running = await start_services(settings)
    try:
        await wait_for(lambda: "zalo" in running.app.channels)
        yield running
    finally:
        await running.stop()


@dataclass
class ZaloUser:
    """One Zalo user in one chat (their private chat unless `chat_id` says otherwise)."""

    fake: FakeZaloApi
    user_id: str
    chat_id: str = ""
    chat_type: str = "PRIVATE"
    seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.chat_id = self.chat_id or self.user_id

    @property
    def records(self) -> list[Sent]:
        return self.fake.messages_for(self.chat_id)

    async def expect(self, n: int = 1) -> list[Sent]:
        """The next `n` messages in this chat, once they have arrived; each within Zalo's rules."""
        found = await self.fake.wait_for_messages(self.chat_id, self.seen + n, WAIT)  # type: ignore[misc]
        new = found[self.seen:self.seen + n]
        self.seen += n
        for message in new:
            assert utf16_len(message.text) <= 2000
            assert "<b>" not in message.text and "&amp;" not in message.text  # plain text
        return new

    async def say(self, text: str, n: int = 1) -> list[Sent]:
        """Type `text` and wait for the bot's `n` answers."""
        self.fake.push_text(self.user_id, text, chat_id=self.chat_id, chat_type=self.chat_type)
        return await self.expect(n)

    async def reply_to(self, text: str) -> str:
        (answer,) = await self.say(text)
        return answer.text


def bad_sends(fake: FakeZaloApi) -> list[tuple[str, int]]:
    """What the fake refused that no test scripted (429s are scripted): none may occur."""
    return [(method, reply.error_code) for method, _, reply in fake.rejected
            if reply.error_code not in (408, 429)]


# --- 1. A citizen, from start to stop -------------------------------------------------------------

STORMS = [FeedItem(f"Bão số 3 gây mưa lớn ở Quảng Ninh, đợt {n}", f"bao-so-3-dot-{n}",
                   "Người dân được sơ tán khỏi vùng ven biển.", age_hours=20 - n)
          for n in range(12)]
ALERT = FeedItem("Quảng Ninh sơ tán dân trước bão số 4 & lũ quét", "bao-so-4",
                 "Hàng nghìn hộ dân được đưa đến nơi an toàn.", age_hours=0.3)
LATER = FeedItem("Quảng Ninh khắc phục hậu quả bão số 4", "sau-bao-so-4", age_hours=0.2)
LAST = FeedItem("Quảng Ninh hỗ trợ dân dựng lại nhà sau bão số 4", "dung-lai-nha", age_hours=0.1)


async def test_citizen_subscribes_gets_alert_and_digest_searches_unsubscribes_and_stops(
    db_url: str, fake_zalo: FakeZaloApi, feed_server: FeedServer
) -> None:
    path = "/rss/quang-ninh.rss"
    url = feed_server.add(path, rss(STORMS))
    async with bot(zalo_settings(db_url, fake_zalo)) as running:
        app = running.app
        await sources.add_source(app, url, name="Báo Quảng Ninh")
        await wait_for(lambda: count_rows(app, Item))  # the backlog is in, not pushed
        lan = ZaloUser(fake_zalo, CITIZEN)

        # Onboarding is a short typed dialogue: Zalo has no buttons.
        assert "Bước 1/3" in await lan.reply_to("/start")
        assert "Bước 2/3" in await lan.reply_to("quang ninh")  # without diacritics
        assert "Bước 3/3" in await lan.reply_to("thiên tai")
        done = await lan.reply_to("ngay")
        assert "Xong" in done and "Quảng Ninh" in done

        # An instant alert, as plain text with its link.
        feed_server.add(path, rss([ALERT, *STORMS]))
        (alert,) = await lan.expect(1)
        assert (
            ALERT.title in alert.text and "https://baotinh.example.vn/bao-so-4.html" in alert.text
        )

        # Daily digest at 7:00: the next item waits for it.
        assert "hằng ngày lúc 7:00" in await lan.reply_to("/digest hangngay 7")
        feed_server.add(path, rss([LATER, ALERT, *STORMS]))
        await wait_for(lambda: count_rows(app, Item, Item.title == LATER.title))
        await wait_for(running.delivery.idle)
        assert len(lan.records) == lan.seen  # nothing instant any more
        app.clock = _next_local(app, hour=7, minute=1)
        assert await running.delivery.scheduler.tick() == 1
        (digest,) = await lan.expect(1)
        assert LATER.title in digest.text and ALERT.title not in digest.text  # each item once

        # Search: results numbered, pages typed.
        page1 = await lan.reply_to("/search bão số 3")
        assert "12 tin · trang 1/3" in page1 and "1. Bão số 3" in page1
        assert "/search bão số 3 2" in page1
        page2 = await lan.reply_to("/search bao so 3 2")
        assert "trang 2/3" in page2 and "6. Bão số 3" in page2

        assert "Đã hủy đăng ký số 1" in await lan.reply_to("/unsub 1")
        assert await count_rows(app, Subscription) == 0
        feed_server.add(path, rss([LAST, LATER, ALERT, *STORMS]))
        await wait_for(lambda: count_rows(app, Item, Item.title == LAST.title))
        await wait_for(running.delivery.idle)
        assert len(lan.records) == lan.seen  # unsubscribed: nothing more

        assert "/confirm" in await lan.reply_to("/stop")
        assert "Đã xóa toàn bộ dữ liệu" in await lan.reply_to("/confirm")
        assert await count_rows(app, Chat, Chat.chat_key == CITIZEN) == 0
        assert await count_rows(app, User, User.user_key == CITIZEN) == 0
    assert bad_sends(fake_zalo) == []


def _next_local(app, hour: int, minute: int):  # type: ignore[no-untyped-def]
    """A clock moved on to the next `hour:minute` in the bot's time zone, and running from
    there: a stopped clock would leave a source polled after the move never due again."""
    now = app.clock()
    local = now.astimezone(app.settings.tz).replace(
        hour=hour, minute=minute, second=0, microsecond=0
    )
    if local <= now:
        local += timedelta(days=1)
    ahead = local.astimezone(UTC) - now
    return lambda: datetime.now(UTC) + ahead


# --- 2. Admins and officials on Zalo -------------------------------------------------------------

OLD_NEWS = [FeedItem("Lào Cai khánh thành 20 căn nhà Đại đoàn kết ở Bát Xát", "ndk-bat-xat",
                     age_hours=30)]
FRESH = FeedItem('Lào Cai bàn giao 50 căn nhà "Đại đoàn kết" cho hộ nghèo & gia đình chính sách',
                 "ndk-50-can", "Các hộ nghèo ở Lào Cai nhận nhà mới trước mùa mưa.", age_hours=0.1)


async def test_admin_adds_a_feed_from_zalo_and_a_subscriber_gets_its_item_once(
    sqlite_url: str, fake_zalo: FakeZaloApi, feed_server: FeedServer
) -> None:
    path = "/rss/lao-cai.rss"
    url = feed_server.add(path, rss(OLD_NEWS))
    settings = zalo_settings(sqlite_url, fake_zalo, admin_ids=f"123456789,zalo:{ADMIN}")
    async with bot(settings) as running:
        app = running.app
        admin, citizen = ZaloUser(fake_zalo, ADMIN), ZaloUser(fake_zalo, CITIZEN)
        assert "Đã đăng ký" in await citizen.reply_to("/sub nhà đại đoàn kết lào cai")

        assert await citizen.reply_to(f"/addfeed {url}") == t("vi", "admin_only")
        added = await admin.reply_to(f"/addfeed {url} lào cai Báo Lào Cai")
        assert "Đã thêm nguồn số" in added and "Lào Cai" in added
        await wait_for(lambda: count_rows(app, Item))  # the backlog: never pushed

        feed_server.add(path, rss([FRESH, *OLD_NEWS]))
        (alert,) = await citizen.expect(1)
        assert FRESH.title in alert.text  # '&' and quotes arrive as themselves
        hits = feed_server.hits(path)
        await wait_for(lambda: feed_server.hits(path) >= hits + 2)
        await wait_for(running.delivery.idle)
        assert len(citizen.records) == citizen.seen and len(admin.records) == admin.seen

        source = await _one(app, select(Source))
        assert (source.url, source.province) == (url, "15")
        actors = {(e.actor, e.allowed) for e in await _all(app, select(AuditLog))}
        assert (f"zalo:{ADMIN}", True) in actors and (f"zalo:{CITIZEN}", False) in actors
    assert bad_sends(fake_zalo) == []


async def test_official_on_zalo_gets_the_report_chart_by_url(
    sqlite_url: str, fake_zalo: FakeZaloApi, free_port: int
) -> None:
    settings = zalo_settings(sqlite_url, fake_zalo, admin_ids=f"zalo:{ADMIN}",
                             public_base_url=f"http://127.0.0.1:{free_port}",
                             zalo_listen_port=free_port)
    async with bot(settings) as running:
        app = running.app
        now = app.clock()
        async with app.sessions() as session, session.begin():
            src = await add_source(session, "Báo Lào Cai")
            for n, topic in enumerate(["nha-dai-doan-ket", "bau-cu", "bau-cu"]):
                await add_item(session, src, f"Tin số {n} của Lào Cai", provinces=["15"],
                               topics=[topic], published_at=now - timedelta(hours=n + 1))
        admin, official = ZaloUser(fake_zalo, ADMIN), ZaloUser(fake_zalo, OFFICIAL)
        assert await official.reply_to("/report") == t("vi", "official_only")
        assert "là cán bộ của: Lào Cai" in await admin.reply_to(
            f"/grant {OFFICIAL} official lào cai"
        )
        text, chart = await official.say("/report", n=2)
        assert text.method == "sendMessage" and "Lào Cai" in text.text
        assert chart.method == "sendPhoto"
        assert chart.photo is not None and chart.photo.startswith(
            f"{settings.public_base_url}/media/"
        )
        assert chart.photo_bytes is not None and chart.photo_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    assert bad_sends(fake_zalo) == []


async def test_in_a_zalo_group_loa_admins_stand_in_for_group_admins(
    sqlite_url: str, fake_zalo: FakeZaloApi
) -> None:
    # Zalo does not tell who administers a group: Loa's own admins set groups up.
    async with bot(zalo_settings(sqlite_url, fake_zalo, admin_ids=f"zalo:{ADMIN}")) as running:
        member = ZaloUser(fake_zalo, CITIZEN, chat_id="g0a1b2c3", chat_type="GROUP")
        admin = ZaloUser(fake_zalo, ADMIN, chat_id="g0a1b2c3", chat_type="GROUP")
        assert await member.reply_to("/sub thiên tai quảng ninh") == t(
            "vi", "error_group_admin_only"
        )
        admin.seen = member.seen  # one chat: both see the same messages
        assert "Đã đăng ký" in await admin.reply_to("/sub thiên tai quảng ninh")
        group = await _one(running.app, select(Chat).where(Chat.chat_key == "g0a1b2c3"))
        assert (group.channel, group.kind) == ("zalo", "group")
        assert await count_rows(running.app, Subscription, Subscription.chat_id == group.id) == 1
    assert bad_sends(fake_zalo) == []


# --- 3. Zalo's quota ------------------------------------------------------------------------------


async def test_a_429_storm_delays_alerts_but_loses_none(
    sqlite_url: str, fake_zalo: FakeZaloApi, feed_server: FeedServer
) -> None:
    path = "/rss/quang-ninh.rss"
    url = feed_server.add(path, rss(STORMS[:1]))
    async with bot(zalo_settings(sqlite_url, fake_zalo)) as running:
        app = running.app
        await sources.add_source(app, url, name="Báo Quảng Ninh")
        await wait_for(lambda: count_rows(app, Item))
        people = [ZaloUser(fake_zalo, f"{n:016x}") for n in range(1, 13)]
        for person in people:
            assert "Đã đăng ký" in await person.reply_to("/sub thiên tai quảng ninh")

        fake_zalo.quota_storm(30)
        started = time.monotonic()
        feed_server.add(path, rss([ALERT, *STORMS[:1]]))
        for person in people:
            (alert,) = await person.expect(1)
            assert ALERT.title in alert.text
        await wait_for(running.delivery.idle)
        assert fake_zalo.count_429 == 30 and fake_zalo.scripted_left("sendMessage") == 0
        assert all(len(p.records) == p.seen for p in people)  # every alert once
        # The storm was waited out with our own back-off: it took time, and no send was lost.
        assert time.monotonic() - started >= 0.05
        async with app.sessions() as session:
            states = set(await session.scalars(select(Chat.active)))
        assert states == {True}
    assert bad_sends(fake_zalo) == []


# --- 4. Telegram and Zalo in one process ------------------------------------------------------


async def test_both_channels_in_one_process_each_gets_only_its_own(
    sqlite_url: str, fake_zalo: FakeZaloApi, fake_telegram: FakeTelegram,
    feed_server: FeedServer,
) -> None:
    path = "/rss/quang-ninh.rss"
    url = feed_server.add(path, rss(STORMS[:1]))
    settings = e2e_settings(sqlite_url, fake_telegram, **zalo_settings(sqlite_url, fake_zalo)
                            .model_dump(include={"zalo_bot_token", "zalo_api_base_url",
                                                 "zalo_poll_timeout_seconds",
                                                 "zalo_private_per_second"}))
    async with bot(settings) as running:
        app = running.app
        await wait_for(lambda: "telegram" in app.channels)
        await sources.add_source(app, url, name="Báo Quảng Ninh")
        await wait_for(lambda: count_rows(app, Item))
        # The same person on both apps, with the same-looking id: two chats, two subscriptions.
        on_zalo, on_telegram = ZaloUser(fake_zalo, "5005"), TgUser(fake_telegram, 5005)
        assert "Đã đăng ký" in await on_zalo.reply_to("/sub thiên tai quảng ninh")
        (tg_sub,) = await on_telegram.say("/sub bão quảng ninh")
        assert "Đã đăng ký" in tg_sub.plain
        assert await count_rows(app, Chat) == 2 and await count_rows(app, Subscription) == 2

        feed_server.add(path, rss([ALERT, *STORMS[:1]]))
        (zalo_alert,) = await on_zalo.expect(1)
        (tg_alert,) = await on_telegram.expect(1)
        assert ALERT.title in zalo_alert.text and ALERT.title in tg_alert.plain
        assert "&amp;" in tg_alert.text and "&amp;" not in zalo_alert.text  # HTML vs plain

        assert "Đã hủy" in await on_zalo.reply_to("/unsub 1")  # one app's choice only
        await wait_for(running.delivery.idle)
        assert await count_rows(app, Subscription) == 1
        assert len(on_zalo.records) == on_zalo.seen and len(on_telegram.records) == on_telegram.seen
        assert {m.chat_id for m in fake_zalo.sent} == {"5005"}
        assert {s.chat_id for s in fake_telegram.sent} == {5005}
    assert bad_sends(fake_zalo) == []


async def _one(app, query):  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return await session.scalar(query)


async def _all(app, query):  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return list(await session.scalars(query))


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

