"""The whole bot end to end over real sockets: `start_services` (delivery, the Telegram channel on
python-telegram-bot's real Application, the poller) against the fake Bot API and the local feed
server. Each test is a person on Telegram: it pushes updates, presses the buttons the bot really
sent, and waits (with a timeout) for what the bot sends back. Every message the bot sent must
pass the fake's HTML, length and keyboard checks."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from handlers.commands import command_list, names_for_role
from render.texts import t
from services import chats, sources, subscriptions
from services.subscriptions import Cadence
from storage.models import AuditLog, Chat, DeliveredItem, Item, Source, Subscription, User
from tests.delivery_support import add_item, add_source
from tests.e2e_support import FeedItem, TgUser, bad_sends, bot, e2e_settings, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for

ADMIN = 9001


async def _count(app, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


def _item_ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"/why_(\d+)", text)]


STORMS = [FeedItem(f"Bão số 3 gây mưa lớn ở Quảng Ninh, đợt {n}", f"bao-so-3-dot-{n}",
                   "Người dân được sơ tán khỏi vùng ven biển.", age_hours=20 - n)
          for n in range(12)]


async def test_citizen_onboards_subscribes_searches_pages_unsubscribes_and_stops(
    sqlite_url: str, fake_telegram: FakeTelegram, feed_server: FeedServer  # noqa: F811
) -> None:
    settings = e2e_settings(sqlite_url, fake_telegram)
    url = feed_server.add("/rss/thoi-su.rss", rss(STORMS))
    async with bot(settings) as running:
        app = running.app
        await sources.add_source(app, url, name="Báo Tỉnh")
        await wait_for(lambda: _count(app, Item))
        lan = TgUser(fake_telegram, 501)

        (welcome,) = await lan.say("/start")
        assert "Bước 1/3" in welcome.plain and welcome.buttons
        (edit,) = await lan.press("Lào Cai")
        assert edit.method == "editMessageText" and edit.message_id == welcome.message_id
        assert "✓ Lào Cai" in [b["text"] for row in edit.buttons for b in row]
        (topics,) = await lan.press("Tiếp")
        assert "Bước 2/3" in topics.plain
        await lan.press("Thiên tai")
        (delivery,) = await lan.press("Tiếp")
        assert "Bước 3/3" in delivery.plain
        (done,) = await lan.press("Ngay")
        assert "Xong" in done.plain
        chat = await chats.ensure_chat(app, "telegram", "501")
        [onboarded] = await subscriptions.list_subscriptions(app, chat.id)
        assert onboarded.provinces == ("15",) and onboarded.topics == ("thien-tai-cuu-tro",)
        assert onboarded.delivery == Cadence("instant")

        (understood,) = await lan.say("/sub xóa nhà tạm")
        assert "Đã đăng ký (số 2)" in understood.plain
        assert await _count(app, Subscription) == 2

        (page1,) = await lan.say("/search bão số 3")
        assert "12 tin · trang 1/3" in page1.plain
        (page2,) = await lan.press("Sau")
        assert page2.method == "editMessageText" and page2.message_id == page1.message_id
        assert "trang 2/3" in page2.plain
        (back,) = await lan.press("Trước")
        assert "trang 1/3" in back.plain
        first, second = _item_ids(page1.text), _item_ids(page2.text)
        assert len(first) == len(second) == 5 and not set(first) & set(second)
        assert _item_ids(back.text) == first

        (unsub,) = await lan.say("/unsub 2")
        assert "Đã hủy đăng ký số 2" in unsub.plain
        assert await _count(app, Subscription) == 1

        (ask,) = await lan.say("/stop")
        assert "xóa mọi dữ liệu" in ask.plain
        (gone,) = await lan.press("Xóa hết")
        assert "Đã xóa toàn bộ dữ liệu" in gone.plain
        assert await _count(app, Chat, Chat.chat_key == "501") == 0
        assert await _count(app, User, User.user_key == "501") == 0
        assert await _count(app, Subscription) == 0
    assert bad_sends(fake_telegram) == []


# --- 2. An admin adds a feed; a subscriber gets its new item, once -----------------------------

OLD_NEWS = [
    FeedItem("Lào Cai khánh thành 20 căn nhà Đại đoàn kết ở Bát Xát", "ndk-bat-xat", age_hours=30),
    FeedItem("Lào Cai: hội nghị tổng kết năm học", "tong-ket-nam-hoc", age_hours=26),
]
FRESH = FeedItem('Lào Cai bàn giao 50 căn nhà "Đại đoàn kết" cho hộ nghèo & gia đình chính sách',
                 "ndk-50-can", "Các hộ nghèo ở Lào Cai nhận nhà mới trước mùa mưa.",
                 age_hours=0.1)


async def test_admin_adds_a_feed_and_a_subscriber_gets_its_new_item_once(
    db_url: str, fake_telegram: FakeTelegram, feed_server: FeedServer  # noqa: F811
) -> None:
    settings = e2e_settings(db_url, fake_telegram, admin_ids=str(ADMIN))
    path = "/rss/lao-cai.rss"
    url = feed_server.add(path, rss(OLD_NEWS))
    async with bot(settings) as running:
        app = running.app
        subscriber, bystander = TgUser(fake_telegram, 601), TgUser(fake_telegram, 602)
        admin = TgUser(fake_telegram, ADMIN)
        (sub,) = await subscriber.say("/sub nhà đại đoàn kết lào cai")
        assert "Đã đăng ký" in sub.plain and "Lào Cai" in sub.plain
        await bystander.say("/sub bầu cử hà nội")

        (added,) = await admin.say(f"/addfeed {url} lào cai Báo Lào Cai")
        assert "Đã thêm nguồn số" in added.plain and "Lào Cai" in added.plain
        # The first read is the backlog: stored as already seen, never pushed.
        await wait_for(lambda: _count(app, Item))
        assert await _count(app, Item, Item.backlog.is_(True)) == len(OLD_NEWS)

        feed_server.add(path, rss([FRESH, *OLD_NEWS]))
        (alert,) = await subscriber.expect(1)
        assert FRESH.title in alert.plain
        assert "&amp;" in alert.text  # the title's "&" arrived escaped and passed the fake

        # Further polls read the same item again; it is not sent again, to anyone.
        hits = feed_server.hits(path)
        await wait_for(lambda: feed_server.hits(path) >= hits + 2)
        await wait_for(running.delivery.idle)
        assert len(subscriber.records) == subscriber.seen
        assert await _count(app, DeliveredItem) == 1
        assert len(bystander.records) == bystander.seen == 1
        assert len(admin.records) == admin.seen == 1
    assert bad_sends(fake_telegram) == []


# --- 3. Officials get reports with their chart --------------------------------------------------


async def test_official_gets_a_report_with_its_chart_and_a_citizen_is_refused(
    sqlite_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = e2e_settings(sqlite_url, fake_telegram, admin_ids=str(ADMIN))
    async with bot(settings) as running:
        app = running.app
        now = app.clock()
        async with app.sessions() as session, session.begin():
            src = await add_source(session, "Báo Lào Cai")
            for n, (code, topic) in enumerate([("15", "nha-dai-doan-ket"), ("15", "bau-cu"),
                                               ("15", "bau-cu"), ("01", "bau-cu")]):
                await add_item(session, src, f"Tin số {n} <tỉnh {code}> & bà con", provinces=[code],
                               topics=[topic], published_at=now - timedelta(hours=n + 1))
        admin, official = TgUser(fake_telegram, ADMIN), TgUser(fake_telegram, 701)
        citizen = TgUser(fake_telegram, 702)

        (refused,) = await official.say("/report")
        assert refused.plain == t("vi", "official_only")
        (granted,) = await admin.say("/grant 701 official lào cai")
        assert "telegram:701 là cán bộ của: Lào Cai" in granted.plain

        text, chart = await official.say("/report", n=2)
        assert text.method == "sendMessage" and "Lào Cai" in text.plain
        assert "Hà Nội" not in text.plain  # only the official's own province
        assert chart.method == "sendPhoto" and chart.photo is not None
        assert chart.photo.startswith(b"\x89PNG\r\n\x1a\n")
        (foreign,) = await official.say("/report hà nội")
        assert "không phải: Hà Nội" in foreign.plain

        (no,) = await citizen.say("/report lào cai")
        assert no.plain == t("vi", "official_only")
        assert not [s for s in citizen.records if s.method == "sendPhoto"]
    assert bad_sends(fake_telegram) == []


# --- 4. Non-admins are refused at every admin command ------------------------------------------


@pytest.mark.parametrize("command", names_for_role("admin"))
async def test_non_admin_is_refused_at_every_admin_command(
    sqlite_url: str, fake_telegram: FakeTelegram, command: str
) -> None:
    settings = e2e_settings(sqlite_url, fake_telegram, admin_ids=str(ADMIN))
    async with bot(settings) as running:
        citizen = TgUser(fake_telegram, 42)
        (reply,) = await citizen.say(f"/{command} https://example.vn/rss 42 official 33")
        assert reply.plain == t("vi", "admin_only")
        async with running.app.sessions() as session:
            [entry] = (await session.scalars(select(AuditLog))).all()
            assert await _count(running.app, Source) == 0
    assert (entry.actor, entry.action, entry.allowed) == ("telegram:42", f"/{command}", False)
    assert bad_sends(fake_telegram) == []


# --- 5. Telegram's answers to deliveries --------------------------------------------------------

STORM = FeedItem("Bão số 5 đổ bộ Quảng Ninh, sơ tán hàng nghìn hộ dân", "bao-so-5",
                 "Mưa lớn kéo dài ở Quảng Ninh.", age_hours=0.2)
STORM_AFTER = FeedItem("Quảng Ninh khắc phục hậu quả bão số 5, khơi thông giao thông",
                       "sau-bao-so-5", "Lực lượng cứu hộ dọn cây đổ.", age_hours=0.1)
OLD_STORM = FeedItem("Quảng Ninh diễn tập phòng chống bão lũ", "dien-tap", age_hours=40)


async def _chat(app, key: str) -> Chat | None:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return await session.scalar(select(Chat).where(Chat.chat_key == key))


async def test_delivery_answers_blocked_429_and_migrated_groups(
    sqlite_url: str, fake_telegram: FakeTelegram, feed_server: FeedServer  # noqa: F811
) -> None:
    settings = e2e_settings(sqlite_url, fake_telegram)
    path = "/rss/quang-ninh.rss"
    url = feed_server.add(path, rss([OLD_STORM]))
    old_group, new_group = -5001, -1000000005001  # moves without us seeing the service message
    seen_group, seen_new = -5002, -1000000005002  # moves with the service message
    async with bot(settings) as running:
        app = running.app
        await sources.add_source(app, url, name="Báo Quảng Ninh")
        await wait_for(lambda: _count(app, Item))  # the backlog is in

        blocked, slowed = TgUser(fake_telegram, 801), TgUser(fake_telegram, 802)
        groups = [TgUser(fake_telegram, 803, chat_id=g, chat_type="group", title=f"Tổ {g}")
                  for g in (old_group, seen_group)]
        for person in (blocked, slowed, *groups):
            fake_telegram.set_chat_member(person.chat_id, 803, "administrator")
            (ok,) = await person.say("/sub thiên tai quảng ninh")
            assert "Đã đăng ký" in ok.plain

        fake_telegram.script_chat(801, "blocked")
        fake_telegram.force_429(1, retry_after=1, chat_id=802)
        fake_telegram.script_chat(old_group, "migrated", new_chat_id=new_group)
        fake_telegram.push_migration(seen_group, seen_new, user_id=803)
        await wait_for(lambda: _chat(app, str(seen_new)))

        feed_server.add(path, rss([STORM, OLD_STORM]))
        await wait_for(lambda: fake_telegram.count_429 == 1)
        refused_at = time.monotonic()
        (first,) = await slowed.expect(1)
        assert STORM.title in first.plain and first.time - refused_at >= 0.9  # retry_after held
        moved = [TgUser(fake_telegram, 803, chat_id=g) for g in (new_group, seen_new)]
        for group in moved:
            (alert,) = await group.expect(1)
            assert STORM.title in alert.plain
        blocked_chat = await wait_for(lambda: _inactive(app, "801"))
        assert "blocked" in (blocked_chat.inactive_reason or "")

        feed_server.add(path, rss([STORM_AFTER, STORM, OLD_STORM]))
        (second,) = await slowed.expect(1)
        assert STORM_AFTER.title in second.plain
        for group in moved:
            (alert,) = await group.expect(1)
            assert STORM_AFTER.title in alert.plain
        await wait_for(running.delivery.idle)

        # Each message arrived once; the blocked chat was tried once and then left alone.
        assert len(slowed.records) == slowed.seen and fake_telegram.count_429 == 1
        assert [len(g.records) for g in moved] == [g.seen for g in moved]
        assert len(blocked.records) == blocked.seen == 1  # only the reply to /sub
        assert [e[1] for e in fake_telegram.errors if e[2] == 403] == [801]
        for key in (str(new_group), str(seen_new)):
            chat = await _chat(app, key)
            assert chat is not None and chat.active
            assert await _count(app, Subscription, Subscription.chat_id == chat.id) == 1
        for key in (str(old_group), str(seen_group)):
            assert await _chat(app, key) is None
    assert bad_sends(fake_telegram) == []


async def _inactive(app, key: str) -> Chat | None:  # type: ignore[no-untyped-def]
    chat = await _chat(app, key)
    return chat if chat is not None and not chat.active else None


# --- 7. Command menus per scope -----------------------------------------------------------------


async def test_command_menus_are_set_per_scope(
    sqlite_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = e2e_settings(sqlite_url, fake_telegram, admin_ids=f"{ADMIN},zalo:ab01")
    async with bot(settings):
        citizen = TgUser(fake_telegram, 42)
        await citizen.say("/help")
    commands = fake_telegram.commands
    assert commands[("default", "")] == command_list("citizen", "vi")
    assert commands[("default", "en")] == command_list("citizen", "en")
    assert commands[(f"chat:{ADMIN}", "")] == command_list("admin", "vi")
    assert commands[(f"chat:{ADMIN}", "en")] == command_list("admin", "en")
    assert {"addfeed", "grant"} <= {name for name, _ in commands[(f"chat:{ADMIN}", "")]}
    assert not {"addfeed", "report"} & {name for name, _ in commands[("default", "")]}
    assert ("chat:42", "") not in commands
    assert bad_sends(fake_telegram) == []


async def test_menus_follow_grant_and_revoke_at_once(
    sqlite_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = e2e_settings(sqlite_url, fake_telegram, admin_ids=str(ADMIN))
    async with bot(settings):
        admin = TgUser(fake_telegram, ADMIN)
        await admin.say("/grant 702 admin")
        assert fake_telegram.commands[("chat:702", "")] == command_list("admin", "vi")
        await admin.say("/grant 701 official lào cai")
        assert fake_telegram.commands[("chat:701", "en")] == command_list("official", "en")
        await admin.say("/revoke 702")
        assert ("chat:702", "") not in fake_telegram.commands
        assert ("chat:702", "en") not in fake_telegram.commands
    assert bad_sends(fake_telegram) == []
