"""Issue 10, end to end: a provincial paper's feed (home province An Giang) carries an item about
Lào Cai. The real bot (`start_services`) polls it from the local feed server and delivers through
the fake Bot API: the item reaches Lào Cai's subscriber and never An Giang's, instantly or in a
digest; An Giang's own news still reaches An Giang's subscriber."""

from __future__ import annotations

from sqlalchemy import select

from services import chats, sources
from storage.models import DeliveredItem, Delivery, Item, ItemProvince
from tests.e2e_support import FeedItem, TgUser, bad_sends, bot, e2e_settings, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for

BACKLOG = [FeedItem("An Giang: Hội nghị tổng kết công tác Mặt trận năm 2025", "tong-ket-2025",
                    age_hours=30)]
LAO_CAI = FeedItem("Lào Cai: Khắc phục hậu quả mưa lũ ở xã Bát Xát", "lao-cai-mua-lu",
                   "Chiều 3/12, đoàn công tác của Tỉnh ủy đã đến thăm, động viên các hộ dân bị "
                   "thiệt hại và trao quà hỗ trợ.", age_hours=0.2)
AN_GIANG = FeedItem("An Giang: Bàn giao 30 căn nhà Đại đoàn kết ở Tân Châu", "an-giang-ndk",
                    "Ủy ban MTTQ tỉnh phối hợp trao nhà cho hộ nghèo.", age_hours=0.1)


async def _provinces_of(app, item: FeedItem) -> list[str]:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return list(await session.scalars(
            select(ItemProvince.province).join(Item, Item.id == ItemProvince.item_id)
            .where(Item.canonical_url.endswith(f"/{item.slug}.html"))
            .order_by(ItemProvince.rank)))


def _url(item: FeedItem) -> str:
    return f"https://baotinh.example.vn/{item.slug}.html"


async def test_a_provincial_feeds_item_about_another_province_reaches_only_that_province(
    db_url: str, fake_telegram: FakeTelegram, feed_server: FeedServer  # noqa: F811
) -> None:
    settings = e2e_settings(db_url, fake_telegram)
    path = "/rss/bao-an-giang.rss"
    url = feed_server.add(path, rss(BACKLOG))
    async with bot(settings) as running:
        app = running.app
        lao_cai, an_giang = TgUser(fake_telegram, 701), TgUser(fake_telegram, 702)
        (sub,) = await lao_cai.say("/sub lào cai")
        assert "Lào Cai" in sub.plain
        (sub,) = await an_giang.say("/sub an giang")
        assert "An Giang" in sub.plain
        await sources.add_source(app, url, province="an giang", name="Báo An Giang")
        await wait_for(lambda: _provinces_of(app, BACKLOG[0]), timeout=15)

        feed_server.add(path, rss([AN_GIANG, LAO_CAI, *BACKLOG]))
        (alert,) = await lao_cai.expect(1)
        assert LAO_CAI.title in alert.plain and AN_GIANG.title not in alert.plain
        (own,) = await an_giang.expect(1)  # An Giang's own news arrives: delivery has run
        assert AN_GIANG.title in own.plain and LAO_CAI.title not in own.plain
        await wait_for(running.delivery.idle, timeout=15)

        assert await _provinces_of(app, LAO_CAI) == ["15"]
        lc_chat = await chats.ensure_chat(app, "telegram", "701")
        ag_chat = await chats.ensure_chat(app, "telegram", "702")
        async with app.sessions() as session:
            given = {(c, link) for c, link in await session.execute(
                select(DeliveredItem.chat_id, Item.canonical_url)
                .join(Item, Item.id == DeliveredItem.item_id))}
            # Nor is it held for An Giang's next digest.
            held = list(await session.scalars(select(Delivery.id).where(
                Delivery.chat_id == ag_chat.id, Delivery.dedup_key.startswith("digest:"))))
        assert {url for c, url in given if c == lc_chat.id} == {_url(LAO_CAI)}
        assert {url for c, url in given if c == ag_chat.id} == {_url(AN_GIANG)}
        assert held == []
        assert len(lao_cai.records) == lao_cai.seen and len(an_giang.records) == an_giang.seen
    assert bad_sends(fake_telegram) == []
