"""Search through the full-text index (storage/search_index.py), on SQLite and PostgreSQL: the
same answers as a scan of the folded text, ranking, filters, the capped total, and the index kept
in step with the items as they are stored, changed and deleted."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, exists, insert, literal, select, update

from services import search
from services.search import CAP
from storage.dialect import dialect, has_words
from storage.models import Item, ItemProvince, ItemTopic, Source
from tests.chat_support import Person
from tests.delivery_support import T0, add_item, add_source
from vntext import fold

at = lambda hours: T0 + timedelta(hours=hours)  # noqa: E731


async def _ids(app, query: str, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    return [item.id for item in (await search.search(app, query, **kwargs)).items]


async def test_title_hits_first_then_newest(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        old_title = await add_item(s, src, "Xóa nhà tạm ở vùng cao", published_at=at(0))
        new_summary = await add_item(s, src, "Tin vắn", "Tỉnh xóa nhà tạm cho hộ nghèo",
                                     published_at=at(5))
        newer_title = await add_item(s, src, "Hoàn thành xóa nhà tạm", published_at=at(3))
        partly = await add_item(s, src, "Xóa nhà cũ", "dựng lều tạm", published_at=at(9))
        await add_item(s, src, "Nhà tạm bợ", published_at=at(10))  # no "xóa": not a match
    assert await _ids(app, "xoa nha tam") == [newer_title, old_title, partly, new_summary]
    assert await _ids(app, "xoa nha tam", per_page=2) == [newer_title, old_title]
    assert await _ids(app, "xoa nha tam", page=2, per_page=3) == [new_summary]
    found = await search.latest(app, "xóa nhà tạm")  # /latest: newest first, no tiers
    assert [i.id for i in found.items] == [partly, new_summary, newer_title, old_title]


async def test_province_and_topic_filters_use_the_labels(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        lao_cai = await add_item(s, src, "Mưa lớn gây ngập", provinces=["15"],
                                 topics=["thien-tai-cuu-tro"], published_at=at(1))
        ha_noi = await add_item(s, src, "Mưa lớn gây ngập phố", provinces=["01"],
                                published_at=at(2))
        both = await add_item(s, src, "Mưa lớn ở hai tỉnh", provinces=["01", "15"],
                              published_at=at(0))
    assert await _ids(app, "mưa lớn") == [ha_noi, lao_cai, both]
    assert await _ids(app, "mưa lớn lào cai") == [lao_cai, both]
    assert await _ids(app, "mua lon ha noi") == [ha_noi, both]
    assert await _ids(app, "lào cai") == [lao_cai, both]  # a filter alone: newest first
    assert await _ids(app, "bão lũ mưa lớn") == [lao_cai]  # a topic word filters by topic
    page = await search.search(app, "mưa lớn hà nội")
    assert page.provinces == ("01",) and page.words == ("mua", "lon") and page.total == 2


async def test_the_index_finds_what_a_scan_of_the_text_finds(app) -> None:  # type: ignore[no-untyped-def]
    """Random items and queries from a small vocabulary: the index's answer equals the old
    whole-word scan (storage.dialect.has_words over the folded text), copies left out."""
    rnd = random.Random(5)
    vocab = ["nhà", "nhân", "tạm", "tâm", "xóa", "covid-19", "5.000", "ab.cd", "ô", "tô",
             "tai", "nạn", "đường", "dân", "a1", "hội", "hộ"]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        for n in range(80):
            title = " ".join(rnd.choices(vocab, k=rnd.randint(1, 4)))
            summary = " ".join(rnd.choices(vocab, k=rnd.randint(0, 8)))
            await add_item(s, src, title, summary, published_at=at(n),
                           provinces=rnd.choice([[], ["15"], ["01"], ["01", "15"]]),
                           duplicate_of=1 if n > 1 and rnd.random() < 0.1 else None)
    queries = ["nha", "nhan", "tam tâm", "covid 19", "5", "000", "ab.cd", "o to", "tai nan",
               "duong dan", "a1", "hoi ho", "xoa nha tam", "19", "cd"]
    async with app.sessions() as s:
        for query, province in [(q, None) for q in queries] + [(q, "15") for q in queries[:6]]:
            padded = literal(" ") + Item.search_text + literal(" ")
            in_province = [] if province is None else [exists().where(
                ItemProvince.item_id == Item.id, ItemProvince.province == province)]
            expected = set(await s.scalars(select(Item.id).where(
                Item.duplicate_of.is_(None), *in_province,
                *(has_words(dialect(s), padded, word) for word in fold(query).split()))))
            typed = f"{query} lào cai" if province else query
            found = await search.search(app, typed, per_page=100)
            assert {i.id for i in found.items} == expected, typed
            assert found.total == len(expected)


async def test_total_is_exact_up_to_the_cap_then_more(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        rows = [{"source_id": src, "canonical_url": f"https://x.vn/{n}", "guid": f"bulk{n}",
                 "title": f"Giá lúa tuần {n}", "summary": "", "published_at": at(n),
                 "fetched_at": at(n), "content_hash": str(n), "title_fold": f"gia lua tuan {n}",
                 "search_text": f"gia lua tuan {n}", "backlog": False} for n in range(CAP)]
        await s.execute(insert(Item), rows)
    found = await search.search(app, "giá lúa")
    assert (found.total, found.more, found.pages) == (CAP, False, CAP // search.PER_PAGE)
    async with app.sessions() as s, s.begin():
        await add_item(s, src, "Giá lúa tăng", published_at=at(CAP + 5))
    found = await search.search(app, "gia lua", page=999)
    assert (found.total, found.more, found.page) == (CAP, True, CAP // search.PER_PAGE)
    citizen = Person(app)
    await citizen.say("/search giá lúa")
    assert "1.000+ tin · trang 1/200" in citizen.text
    await citizen.say("/lang en")
    await citizen.say("/search gia lua")
    assert "1,000+ items · page 1/200" in citizen.text


async def test_the_index_follows_inserts_updates_and_deletes(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        first = await add_item(s, src, "Khánh thành cầu treo", published_at=at(0))
        second = await add_item(s, src, "Cầu treo mới", published_at=at(1))
        copy = await add_item(s, src, "Khánh thành cầu treo", published_at=at(2),
                              duplicate_of=first)
    assert await _ids(app, "cau treo") == [second, first]
    async with app.sessions() as s, s.begin():  # the text changes
        await s.execute(update(Item).where(Item.id == second).values(
            title="Đường mới", title_fold="duong moi", search_text="duong moi"))
    assert await _ids(app, "cau treo") == [first]
    assert await _ids(app, "duong moi") == [second]
    async with app.sessions() as s, s.begin():  # the date changes: the order follows
        await s.execute(update(Item).where(Item.id == first).values(published_at=at(9)))
        await s.execute(update(Item).where(Item.id == copy).values(duplicate_of=None))
    assert await _ids(app, "cau treo") == [first, copy]
    async with app.sessions() as s, s.begin():  # a copy again
        await s.execute(update(Item).where(Item.id == copy).values(duplicate_of=first))
    assert await _ids(app, "cau treo") == [first]
    async with app.sessions() as s, s.begin():
        await s.execute(delete(Item).where(Item.id == copy))
        await s.execute(delete(Item).where(Item.id == first))
    assert await _ids(app, "cau treo") == []
    async with app.sessions() as s, s.begin():  # a source's removal takes its items along
        await s.execute(delete(Source).where(Source.id == src))
    assert await _ids(app, "duong moi") == []


async def test_the_index_follows_label_changes(app) -> None:  # type: ignore[no-untyped-def]
    """Province and topic labels are in the index (SQLite: tokens in the FTS5 entry, kept by
    triggers on the label tables): a reclassified item is found under its new labels only, with
    words or without, and its deletion takes its labels along."""
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        flood = await add_item(s, src, "Mưa lớn gây ngập", provinces=["15"],
                               topics=["thien-tai-cuu-tro"], published_at=at(0))
        other = await add_item(s, src, "Mưa lớn kéo dài", provinces=["01"], published_at=at(1))
    assert await _ids(app, "mưa lớn lào cai") == [flood]
    assert await _ids(app, "bão lũ") == [flood]
    async with app.sessions() as s, s.begin():  # reclassified: Hà Nội, no topic
        await s.execute(delete(ItemProvince).where(ItemProvince.item_id == flood))
        await s.execute(delete(ItemTopic).where(ItemTopic.item_id == flood))
        await s.execute(insert(ItemProvince).values(item_id=flood, province="01", rank=0,
                                                    evidence=[]))
        await s.execute(update(ItemProvince).where(ItemProvince.item_id == other)
                        .values(province="15"))
    assert await _ids(app, "mưa lớn lào cai") == [other]
    assert await _ids(app, "mưa lớn hà nội") == [flood]
    assert await _ids(app, "hà nội") == [flood] and await _ids(app, "bão lũ") == []
    async with app.sessions() as s, s.begin():  # the text changes: the labels stay
        await s.execute(update(Item).where(Item.id == flood).values(
            title_fold="ngap sau", search_text="ngap sau", published_at=at(5)))
    assert await _ids(app, "ngập hà nội") == [flood] and await _ids(app, "mưa lớn hà nội") == []
    async with app.sessions() as s, s.begin():
        await s.execute(delete(Item).where(Item.id == flood))
    assert await _ids(app, "hà nội") == [] and await _ids(app, "lào cai") == [other]
    async with app.sessions() as s, s.begin():  # a new item may reuse the id (SQLite)
        again = await add_item(s, src, "Ngập sâu", published_at=at(6))
    assert await _ids(app, "ngập") == [again] and await _ids(app, "hà nội") == []


async def test_filters_with_words_many_items(app) -> None:  # type: ignore[no-untyped-def]
    """Filters and words together over more items than a page: the total and the order are a
    scan's (title hits first, newest first within each), topic and province alike."""
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        ids = {}
        for n in range(30):
            provinces = ["15"] if n % 3 == 0 else ["01"]
            topics = ["bau-cu"] if n % 2 == 0 else []
            word = "cử tri" if n % 5 else "đại biểu"
            ids[n] = await add_item(s, src, f"Tiếp xúc {word} số {n}", provinces=provinces,
                                    topics=topics, published_at=at(n))
        in_summary = await add_item(s, src, "Tin vắn", "gặp cử tri", provinces=["15"],
                                    published_at=at(40))
    # title hits first, then the newer summary hit
    expected = [ids[n] for n in reversed(range(30)) if n % 3 == 0 and n % 5] + [in_summary]
    found = await search.search(app, "cử tri lào cai", per_page=100)
    assert [i.id for i in found.items] == expected and found.total == len(expected)
    expected = [ids[n] for n in reversed(range(30)) if n % 2 == 0 and n % 3 == 0 and n % 5]
    assert await _ids(app, "bầu cử cử tri lào cai", per_page=100) == expected
    latest = await search.latest(app, "bầu cử hà nội", limit=100)
    assert [i.id for i in latest.items] == [ids[n] for n in reversed(range(30))
                                            if n % 2 == 0 and n % 3]


async def test_deleting_the_first_copy_makes_the_copy_searchable(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        first = await add_item(s, src, "Khánh thành cầu treo", published_at=at(0))
        copy = await add_item(s, src, "Khánh thành cầu treo", published_at=at(1),
                              duplicate_of=first)
    assert await _ids(app, "cau treo") == [first]
    async with app.sessions() as s, s.begin():  # ON DELETE SET NULL on duplicate_of
        await s.execute(delete(Item).where(Item.id == first))
    assert await _ids(app, "cau treo") == [copy]


async def test_words_diacritics_and_stop_words(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        crash = await add_item(s, src, "Tai nạn giao thông trên quốc lộ 1", published_at=at(0))
        hard = await add_item(s, src, "Bài toán nan giải của ngành điện", published_at=at(1))
        car = await add_item(s, src, "Xe ô tô lao xuống ruộng", published_at=at(2))
        bowl = await add_item(s, src, "Một tô phở giá 100 nghìn", published_at=at(3))
        apart = await add_item(s, src, "Nhà văn hóa", "được dựng tạm thời", published_at=at(4))
    for query in ("tai nạn", "tai nan", "TAI NẠN", "tin tai nạn"):
        assert await _ids(app, query) == [crash], query
    for query in ("ô tô", "o to", "Ô TÔ"):
        assert await _ids(app, query) == [car], query
    assert await _ids(app, "tô") == [bowl, car] and await _ids(app, "nan") == [hard, crash]
    assert await _ids(app, "nhà tạm") == [apart]  # every word, anywhere: not a phrase search
    assert await _ids(app, "nha van hoa") == [apart]
    assert await _ids(app, "nhan") == []  # whole words: "nha" is no "nhan"


@pytest.mark.parametrize("query", ['"', '""', "*", "xe*", "NEAR", "NEAR(xe ô)", "xe NEAR tô",
                                   "-", "-xe", ":", "title:xe", "{title}: xe", "xe AND OR NOT",
                                   "^xe", "xe + tô", "'; DROP TABLE items; --", "\\", "( ) [ ]"])
async def test_query_syntax_never_reaches_the_index(app, query: str) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        car = await add_item(s, src, "Xe ô tô near title and or not", published_at=at(0))
    citizen = Person(app)
    await citizen.say(f"/search {query}")
    text = citizen.text
    assert text.startswith(("Cách dùng: /search", "🔎 Kết quả", "Không tìm thấy")), text
    if re.search(r"\w", query):
        found = await search.search(app, query)
        assert [i.id for i in found.items] in ([], [car])


async def test_empty_and_very_long_queries_get_one_polite_line(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    for query in ("/search", "/search   ", "/search ...!!!", "/search ***"):
        await citizen.say(query)
        assert citizen.text.startswith("Cách dùng: /search"), query
    await citizen.say("/search " + "tai nạn " * 60)
    assert len(citizen.last.messages) == 1
    assert "dài quá" in citizen.text and "Traceback" not in citizen.text
    await citizen.say("/search " + " ".join(f"tu{n}" for n in range(30)))  # many words: fine
    assert "Không tìm thấy" in citizen.text


def _every(session, column, words: list[str]) -> list:  # type: ignore[no-untyped-def]
    padded = literal(" ") + column + literal(" ")
    return [has_words(dialect(session), padded, word) for word in words]


@pytest.mark.parametrize("walks", ["default", "tiny"])
async def test_pages_are_a_scans_whatever_the_walks_read(app, monkeypatch, walks: str) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL walks the newest rows before it asks the GIN index (storage.search_index.find);
    with walks shorter than the matches, every path (a dense walk, a rare tier past the walk, a
    count through the index) gives a scan's pages: title hits first, newest first in each."""
    from storage import search_index

    if walks == "tiny":
        for name, value in {"PROBE_ROWS": 4, "DENSE": 2, "WALK_ROWS": 9, "TIER_ROWS": 6}.items():
            monkeypatch.setattr(search_index, name, value)
    rnd = random.Random(11)
    vocab = ["mưa", "đường", "cầu", "treo", "dân", "hội", "xã", "nhà", "tạm"]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        for n in range(120):
            await add_item(s, src, " ".join(rnd.choices(vocab, k=rnd.randint(1, 3))),
                           " ".join(rnd.choices(vocab, k=rnd.randint(0, 6))),
                           published_at=at(n), provinces=rnd.choice([["15"], ["01"]]))
    for query in ["mưa", "cầu treo", "nhà tạm", "đường treo", "mưa lào cai", "dân hội nhà"]:
        words = fold(query.replace("lào cai", "")).split()
        async with app.sessions() as s:
            province = [exists().where(ItemProvince.item_id == Item.id,
                                       ItemProvince.province == "15")] if "lào" in query else []
            rows = (await s.execute(select(Item.id, Item.published_at).where(
                *_every(s, Item.search_text, words), *province))).all()
            titled = set(await s.scalars(select(Item.id).where(*_every(s, Item.title_fold, words),
                                                              *province)))
        scan = [i for i, _ in sorted(rows, key=lambda r: (r[0] not in titled, -r[1].timestamp(),
                                                          -r[0]))]
        for page in range(1, 5):
            found = await search.search(app, query, page=page, per_page=7)
            assert found.total == len(scan), query
            last = min(page, found.pages)
            assert [i.id for i in found.items] == scan[(last - 1) * 7:last * 7], (query, page)
