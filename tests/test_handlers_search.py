"""/search and /latest through `dispatch`, with the same results on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from services import search
from tests.chat_support import Person
from tests.delivery_support import T0, add_item, add_source

NDK = "nha-dai-doan-ket"


async def _corpus(app) -> dict[str, int]:  # type: ignore[no-untyped-def]
    at = lambda hours: T0 + timedelta(hours=hours)  # noqa: E731
    async with app.sessions() as s, s.begin():
        src = await add_source(s, "Báo Lào Cai")
        ids = {
            "handover": await add_item(s, src, "Bàn giao nhà Đại đoàn kết ở Lào Cai",
                                       provinces=["15"], topics=[NDK], published_at=at(0)),
            "title": await add_item(s, src, "Nhà Đại đoàn kết: xóa nhà tạm, nhà dột nát",
                                    provinces=["15"], topics=[NDK], published_at=at(1)),
            "summary": await add_item(s, src, "Khánh thành nhà nhân ái",
                                      "Hưng Yên xóa nhà tạm cho hộ nghèo",
                                      provinces=["33"], topics=[NDK], published_at=at(2)),
            "people": await add_item(s, src, "Nhân dân phấn khởi đón Tết", published_at=at(3)),
        }
        ids["copy"] = await add_item(s, src, "Bàn giao nhà Đại đoàn kết ở Lào Cai",
                                     provinces=["15"], topics=[NDK], published_at=at(4),
                                     duplicate_of=ids["handover"])
        for n in range(12):
            ids[f"storm{n}"] = await add_item(s, src, f"Bão số 3 gây mưa lớn, đợt {n}",
                                              provinces=["22"], topics=["thien-tai-cuu-tro"],
                                              published_at=at(10 + n))
    return ids


def _ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"/why_(\d+)", text)]


async def test_ranked_diacritic_insensitive_whole_words(app) -> None:  # type: ignore[no-untyped-def]
    ids = await _corpus(app)
    citizen = Person(app)
    for query in ("xóa nhà tạm", "xoa nha tam", "XÓA NHÀ TẠM"):
        await citizen.say(f"/search {query}")
        # All three words in the title beat the words in the summary.
        assert _ids(citizen.text) == [ids["title"], ids["summary"]]
    await citizen.say("/search nha")
    assert ids["people"] not in _ids(citizen.text)  # "nha" is not "nhân"
    await citizen.say("/search nhan dan")
    assert _ids(citizen.text) == [ids["people"]]


async def test_province_and_topic_words_filter(app) -> None:  # type: ignore[no-untyped-def]
    ids = await _corpus(app)
    citizen = Person(app)
    await citizen.say("/search nhà đại đoàn kết lào cai")
    assert sorted(_ids(citizen.text)) == sorted([ids["handover"], ids["title"]])
    assert "Lọc theo: Lào Cai" in citizen.text
    assert ids["copy"] not in _ids(citizen.text)  # republished copies are left out
    await citizen.say("/search xóa nhà tạm hưng yên")
    assert _ids(citizen.text) == [ids["summary"]]
    await citizen.say("/search thái bình")  # a former name filters by its current province
    assert _ids(citizen.text) == [ids["summary"]]


@pytest.mark.parametrize("query", ['"xóa" nhà* tạm', "xoa:nha:tam", "-xoa (nha) [tam]",
                                   "xoa nha tam';--", "xoa_nha%tam",
                                   "{xoa} nha|tam \\"])
async def test_search_characters_never_break_a_query(app, query: str) -> None:  # type: ignore[no-untyped-def]
    ids = await _corpus(app)
    citizen = Person(app)
    await citizen.say(f"/search {query}")
    assert _ids(citizen.text) == [ids["title"], ids["summary"]]


async def test_odd_queries_get_usage_or_nothing(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    await _corpus(sqlite_app)
    citizen = Person(sqlite_app)
    for query in ("/search", "/search ***", "/search ()[]"):
        await citizen.say(query)
        assert citizen.text.startswith("Cách dùng: /search")
    await citizen.say("/search zzzqqq")
    assert "Không tìm thấy tin nào" in citizen.text
    await citizen.say("/search x'; DROP TABLE items; --")
    assert "Không tìm thấy tin nào" in citizen.text
    await citizen.say("/search bão")
    assert "12 tin" in citizen.text


async def test_paging_by_buttons_and_by_typing(app) -> None:  # type: ignore[no-untyped-def]
    ids = await _corpus(app)
    storms = [ids[f"storm{n}"] for n in range(11, -1, -1)]  # equal scores: newest first
    citizen = Person(app)
    await citizen.say("/search bão số 3")
    assert "12 tin · trang 1/3" in citizen.text
    assert _ids(citizen.text) == storms[:5]
    await citizen.tap("Sau")
    assert _ids(citizen.text) == storms[5:10] and citizen.last.messages[0].edit_message_id
    await citizen.tap("Sau")
    assert _ids(citizen.text) == storms[10:]
    assert "<b>11.</b>" in citizen.text  # numbering runs on across pages
    await citizen.tap("Trước")
    assert _ids(citizen.text) == storms[5:10]
    await citizen.say("/search bão số 3 trang 3")
    assert _ids(citizen.text) == storms[10:]
    await citizen.say("/search bao so 3 page 9")  # past the end: the last page
    assert _ids(citizen.text) == storms[10:]
    page_one_bao = await search.search(citizen.app, "bão", 1)
    assert [i.id for i in page_one_bao.items] == storms[:5] and page_one_bao.pages == 3


async def test_typed_paging_on_zalo(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    ids = await _corpus(sqlite_app)
    citizen = Person(sqlite_app, channel="zalo")
    await citizen.say("/search bao 2")
    assert not citizen.buttons()
    assert "/search bao 3" in citizen.text
    assert f"/why {ids['storm6']}" in citizen.text  # plain "/why N" where nothing is tappable
    await citizen.say("/search bao 3")  # the last page points back, not at itself
    assert "Xem trang trước: /search bao 2" in citizen.text
    assert "/search bao 3" not in citizen.text


async def test_old_search_buttons_go_stale(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    await _corpus(sqlite_app)
    citizen = Person(sqlite_app)
    await citizen.say("/search bão")
    first = citizen.button("Sau")
    for n in range(5):
        await citizen.say(f"/search bão {n} x")
    await citizen.press(first)
    assert "cũ" in (citizen.last.button_answer or "")


async def test_latest(app) -> None:  # type: ignore[no-untyped-def]
    ids = await _corpus(app)
    citizen = Person(app)
    await citizen.say("/latest")
    assert _ids(citizen.text) == [ids[f"storm{n}"] for n in range(11, 6, -1)]
    await citizen.say("/latest lào cai")
    assert _ids(citizen.text) == [ids["title"], ids["handover"]]
    await citizen.say("/latest nhà đại đoàn kết")
    assert _ids(citizen.text) == [ids["summary"], ids["title"], ids["handover"]]
    await citizen.say("/latest cà mau")
    assert "Chưa có tin nào" in citizen.text


async def test_titles_are_escaped(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    async with sqlite_app.sessions() as s, s.begin():
        src = await add_source(s, "Báo <A&B>")
        await add_item(s, src, "Giá <b>điện</b> & nước", "Tóm tắt <script>")
    citizen = Person(sqlite_app)
    await citizen.say("/search gia dien nuoc")
    assert "&lt;b&gt;điện&lt;/b&gt; &amp; nước" in citizen.text
    assert "Báo &lt;A&amp;B&gt;" in citizen.text


async def test_stop_words_do_not_eat_content_words_in_search(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as s, s.begin():
        src = await add_source(s)
        crash = await add_item(s, src, "Tai nạn giao thông trên quốc lộ 1")
        hard = await add_item(s, src, "Bài toán nan giải của ngành điện")
        car = await add_item(s, src, "Xe ô tô lao xuống ruộng")
        bowl = await add_item(s, src, "Một tô phở giá 100 nghìn")
        flood = await add_item(s, src, "Lũ lụt ở Huế", provinces=["46"],
                               topics=["thien-tai-cuu-tro"])
    citizen = Person(app)
    for query in ("tai nạn", "tai nan", "tin tai nạn"):
        await citizen.say(f"/search {query}")
        assert _ids(citizen.text) == [crash], query
    for query in ("ô tô", "o to"):
        await citizen.say(f"/search {query}")
        assert _ids(citizen.text) == [car], query
    assert hard and bowl
    await citizen.say("/search lũ lụt miền Trung")  # a topic word and a region
    assert _ids(citizen.text) == [flood]
    assert "Lọc theo: Thanh Hóa, Nghệ An" in citizen.text
