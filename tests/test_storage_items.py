"""Storing items once: dedup by canonical URL and GUID, republished copies, on both engines."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from feeds.urls import canonical_url
from storage.items import EntryToStore, StoreResult, store_entries
from storage.models import Item, Source
from storage.recent_titles import RecentTitles, title_key
from vntext import fold

NOW = datetime(2026, 9, 14, 12, 0, tzinfo=UTC)


def entry(url: str, title: str, *, guid: str | None = None, summary: str = "Tóm tắt.",
          published: datetime = NOW) -> EntryToStore:
    url = canonical_url(url)
    return EntryToStore(guid=guid or url, url=url, title=title, summary=summary,
                        published_at=published)


async def add_sources(app, *urls: str) -> list[int]:  # type: ignore[no-untyped-def]
    async with app.sessions() as session, session.begin():
        rows = [Source(url=url, name=url) for url in urls]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def store(app, titles: RecentTitles, source_id: int, entries: list[EntryToStore],  # type: ignore[no-untyped-def]
                backlog: bool = False) -> StoreResult:
    async with app.sessions() as session, session.begin():
        await titles.refresh(session, NOW)
        return await store_entries(session, source_id=source_id, entries=entries,
                                   fetched_at=NOW, backlog=backlog, titles=titles)


async def all_items(app) -> list[Item]:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return list((await session.scalars(select(Item).order_by(Item.id))).all())


async def test_items_are_stored_with_search_fields(app) -> None:  # type: ignore[no-untyped-def]
    [source] = await add_sources(app, "https://vtv.vn/rss")
    result = await store(app, RecentTitles(), source, [
        entry("https://vtv.vn/a-1.htm", "Quảng Ninh chủ động ứng phó bão số 5",
              summary="Tàu thuyền vào nơi tránh trú."),
    ])
    assert len(result.new) == 1 and result.deliverable_ids == [result.new[0].id]
    [item] = await all_items(app)
    assert item.title_fold == "quang ninh chu dong ung pho bao so 5"
    assert item.search_text == "quang ninh chu dong ung pho bao so 5 tau thuyen vao noi tranh tru."
    assert len(item.content_hash) == 64
    assert item.published_at == NOW and item.fetched_at == NOW
    assert not item.backlog and item.duplicate_of is None


async def test_repeated_guid_and_reordered_feed_store_once(app) -> None:  # type: ignore[no-untyped-def]
    [source] = await add_sources(app, "https://x.vn/rss")
    titles = RecentTitles()
    feed = [entry("https://x.vn/1", "Một tin đầu tiên của ngày"),
            entry("https://x.vn/2", "Hai tin thứ hai của ngày"),
            entry("https://x.vn/2-bis", "Tin lặp GUID", guid="https://x.vn/2")]  # GUID repeated
    first = await store(app, titles, source, feed)
    assert len(first.new) == 2 and first.known == 1
    again = await store(app, titles, source, list(reversed(feed)))
    assert again.new == [] and again.known == 3
    assert len(await all_items(app)) == 2


async def test_tracking_parameters_only_do_not_make_a_new_item(app) -> None:  # type: ignore[no-untyped-def]
    [source] = await add_sources(app, "https://vnexpress.net/rss")
    titles = RecentTitles()
    await store(app, titles, source, [entry("https://vnexpress.net/a-1.html?utm_source=rss",
                                            "Giá vàng tăng trở lại")])
    again = await store(
        app,
        titles,
        source,
        [
            entry(
                "https://VNEXPRESS.net/a-1.html?utm_source=zalo&fbclid=x#top",
                "Giá vàng tăng trở lại",
            ),
        ],
    )
    assert again.new == []
    assert [i.canonical_url for i in await all_items(app)] == ["https://vnexpress.net/a-1.html"]


async def test_same_url_in_two_sources_is_stored_once(app) -> None:  # type: ignore[no-untyped-def]
    a, b = await add_sources(app, "https://x.vn/rss/a", "https://x.vn/rss/b")
    titles = RecentTitles()
    await store(app, titles, a, [entry("https://x.vn/tin-1", "Một bài ở hai chuyên mục")])
    second = await store(app, titles, b, [entry("https://x.vn/tin-1", "Một bài ở hai chuyên mục")])
    assert second.new == [] and second.known == 1
    assert [i.source_id for i in await all_items(app)] == [a]


async def test_same_guid_with_a_new_link_is_stored_once(app) -> None:  # type: ignore[no-untyped-def]
    [source] = await add_sources(app, "https://tinh.example.vn/atom")
    titles = RecentTitles()
    await store(app, titles, source, [entry("https://tinh.example.vn/a", "Tin A", guid="tag:1")])
    again = await store(app, titles, source, [entry("https://tinh.example.vn/a-sua", "Tin A (sửa)",
                                                    guid="tag:1")])
    assert again.new == []


async def test_republished_copy_is_linked_to_the_first_and_not_delivered(app) -> None:  # type: ignore[no-untyped-def]
    lao_cai, national, other = await add_sources(
        app, "https://baolaocai.vn/rss", "https://bao.vn/rss", "https://khac.vn/rss")
    titles = RecentTitles()
    original = await store(
        app,
        titles,
        lao_cai,
        [
            entry(
                "https://baolaocai.vn/sat-lo-1",
                "Lào Cai khẩn trương khắc phục sạt lở trên quốc lộ 4D",
            ),
        ],
    )
    copy = await store(app, titles, national, [
        entry("https://bao.vn/lao-cai-sat-lo-9",
              "Lào Cai khẩn trương khắc phục sạt lở trên quốc lộ 4D (Theo Báo Lào Cai)",
              published=NOW + timedelta(hours=5)),
    ])
    first_id = original.new[0].id
    assert copy.new[0].duplicate_of == first_id and copy.deliverable_ids == []
    # A copy of the copy points at the first, too; one changed word in ten still matches.
    third = await store(
        app,
        titles,
        other,
        [
            entry(
                "https://khac.vn/x",
                "Lào Cai khẩn trương khắc phục sạt lở tại quốc lộ 4D - Báo Lào Cai",
                published=NOW + timedelta(days=1),
            ),
        ],
    )
    assert third.new[0].duplicate_of == first_id
    items = await all_items(app)
    assert [i.duplicate_of for i in items] == [None, first_id, first_id]
    assert all(i.search_text for i in items)  # stored and searchable


async def test_not_copies(app) -> None:  # type: ignore[no-untyped-def]
    a, b = await add_sources(app, "https://a.vn/rss", "https://b.vn/rss")
    titles = RecentTitles()
    await store(app, titles, a, [
        entry("https://a.vn/1", "Hà Nội thông xe cầu vượt mới tại nút giao Mai Dịch"),
        entry("https://a.vn/2", "Thời tiết hôm nay"),
    ])
    result = await store(app, titles, b, [
        # more than three days later: a new story, even with the same title
        entry("https://b.vn/1", "Hà Nội thông xe cầu vượt mới tại nút giao Mai Dịch",
              published=NOW + timedelta(days=4)),
        # too different
        entry("https://b.vn/2", "Hà Nội khởi công cầu vượt mới tại nút giao An Dương"),
        # short titles are never matched
        entry("https://b.vn/3", "Thời tiết hôm nay"),
    ])
    assert [i.duplicate_of for i in result.new] == [None, None, None]
    # Within one source a near-identical title is not a republication either.
    same = await store(app, titles, a, [
        entry("https://a.vn/3", "Hà Nội thông xe cầu vượt mới tại nút giao Mai Dịch (cập nhật)"),
    ])
    assert same.new[0].duplicate_of is None


async def test_backlog_items_are_not_deliverable(app) -> None:  # type: ignore[no-untyped-def]
    [source] = await add_sources(app, "https://x.vn/rss")
    result = await store(app, RecentTitles(), source, [entry("https://x.vn/1", "Tin cũ")],
                         backlog=True)
    assert result.deliverable_ids == [] and result.new[0].backlog
    assert (await all_items(app))[0].backlog


async def test_titles_index_sees_items_stored_elsewhere(app) -> None:  # type: ignore[no-untyped-def]
    a, b = await add_sources(app, "https://a.vn/rss", "https://b.vn/rss")
    # Another process (its own index) stored the first copy.
    await store(app, RecentTitles(), a, [
        entry("https://a.vn/1", "Đồng Nai đẩy nhanh tiến độ sân bay Long Thành"),
    ])
    ours = RecentTitles()
    copy = await store(app, ours, b, [
        entry("https://b.vn/1", "Đồng Nai đẩy nhanh tiến độ sân bay Long Thành (theo TTXVN)"),
    ])
    assert copy.new[0].duplicate_of is not None


def test_title_key_drops_attribution_tails() -> None:
    base = "lao cai khac phuc sat lo"
    assert title_key(fold("Lào Cai khắc phục sạt lở (Theo Báo Lào Cai)")) == base
    assert title_key(fold("Lào Cai khắc phục sạt lở - Báo Lào Cai")) == base
    assert title_key(fold("Lào Cai khắc phục sạt lở | Báo điện tử Lào Cai")) == base
    assert title_key(fold("Lào Cai khắc phục sạt lở theo TTXVN")) == base
    assert title_key(fold("Lào Cai: khắc phục sạt lở - Báo Lào Cai (Theo TTXVN)")) == base
    assert title_key(fold("Giá xăng tăng theo báo cáo của Bộ")) == \
        "gia xang tang theo bao cao cua bo"
