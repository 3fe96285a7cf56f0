"""Parsing feeds in the shapes Vietnamese outlets publish, and refusing what is not a feed."""

import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.errors import FeedError
from feeds.parse import parse_feed
from feeds.read import parse_body

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FETCHED = datetime(2026, 9, 25, 0, 0, tzinfo=UTC)
TONES = "\u0300\u0301\u0309\u0303\u0323"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def entries(name: str, url: str = "") -> list:  # type: ignore[type-arg]
    return parse_body(fixture(name), spec=None, content_type=None, url=url,
                      fetched_at=FETCHED, local=HCM)


def cp1258(text: str) -> bytes:
    """Encode as windows-1258 does: base letters precomposed, tone marks as combining marks."""
    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
        out.append((base + "".join(c for c in parts if c in TONES)).encode("cp1258"))
    return b"".join(out)


def test_vnexpress_shape() -> None:
    items = entries("vnexpress.rss", "https://vnexpress.net/rss/thoi-su.rss")
    assert [e.title for e in items] == [
        "Hòa Bình khánh thành cầu dân sinh mới qua sông Đà",  # "Hoà" unified
        "Nông dân Đắk Lắk thu hoạch cà phê sớm",  # spaces collapsed
        "Thủy điện xả lũ, hạ du được cảnh báo",
    ]
    # relative link resolved against the feed URL, tracking parameters removed
    assert items[2].url == "https://vnexpress.net/thuy-dien-xa-lu-ha-du-duoc-canh-bao-5200003.html"
    assert items[0].published_at == datetime(2026, 9, 14, 2, 43, 55, tzinfo=UTC)


def test_tuoitre_shape_without_summaries() -> None:
    items = entries("tuoitre.rss")
    assert items[0].title == "TP.HCM mở thêm tuyến xe buýt điện nối sân bay"  # zero-width gone
    assert items[0].summary == ""
    assert items[1].published_at == datetime(2026, 9, 13, 18, 22, tzinfo=UTC)


def test_baochinhphu_shape_us_dates_without_zone() -> None:
    items = entries("baochinhphu.rss")
    assert items[0].title == "Thủ tướng chỉ đạo đẩy nhanh giải ngân vốn đầu tư công"
    assert items[0].published_at == datetime(2026, 9, 14, 11, 44, tzinfo=UTC)
    assert items[1].published_at == datetime(2026, 9, 3, 1, 1, tzinfo=UTC)


def test_vtv_shape_with_two_digit_zone() -> None:
    items = entries("vtv.rss")
    assert items[0].published_at == datetime(2026, 9, 14, 12, 46, 22, tzinfo=UTC)


def test_thanhnien_two_digit_year() -> None:
    assert entries("thanhnien.rss")[0].published_at == datetime(2026, 9, 14, 2, 13,
                                                                  tzinfo=UTC)


def test_sggp_shape_html_summary_and_related_links() -> None:
    items = entries("sggp.rss")
    assert items[0].summary == ("Đỉnh triều cường chiều 23-9 vượt mức báo động,"
                                " nước tràn vào nhiều tuyến hẻm.")
    assert "liên quan" not in items[0].summary and "chống ngập" not in items[0].summary
    assert items[0].guid == items[0].url
    # pubDate wins over the later <updated>
    assert items[0].published_at == datetime(2026, 9, 23, 10, 2, 29, tzinfo=UTC)


def test_atom_rss091_and_rss10() -> None:
    atom = entries("atom.xml")
    assert [e.url for e in atom] == ["https://tinh.example.vn/tin/ke-hoach-chuyen-doi-so-2027.html",
                                     "https://tinh.example.vn/tin/lay-y-kien-quy-hoach.html"]
    assert atom[0].guid == "tag:tinh.example.vn,2026:1001"
    assert atom[0].summary == "Kế hoạch gồm 12 nhiệm vụ trọng tâm."
    assert atom[1].summary == "Thời gian lấy ý kiến kéo dài 30 ngày."
    assert atom[1].published_at == datetime(2026, 9, 13, 8, 0, tzinfo=UTC)
    old = entries("rss091.xml")
    assert old[0].title == "Khai giảng lớp dạy nghề cho lao động nông thôn"
    assert not old[0].dated and old[0].published_at == FETCHED
    rdf = entries("rss10.rdf")
    assert rdf[0].published_at == datetime(2026, 9, 12, 0, 30, tzinfo=UTC)


def test_feed_repeating_an_item_parses_both() -> None:
    repeated = """<item><title>Lặp</title>
<link>https://vtv.vn/lao-cai-khoi-phuc-giao-thong-sau-sat-lo-100260914153200002.htm</link>
</item></channel>""".encode()
    body = fixture("vtv.rss").replace(b"</channel>", repeated)
    assert len(parse_feed(body).entries) == 3  # dedup is the store's job


@pytest.mark.parametrize("name, reason", [
    ("html_page.html", "HTML page"),
    ("malformed.xml", "malformed XML"),
    ("entity_bomb.xml", "entities"),
])
def test_bad_bodies_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(fixture(name))
    assert reason in caught.value.reason


def test_html_sent_as_feed_content_type_is_still_refused() -> None:
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(fixture("html_page.html"), "application/rss+xml")


def test_json_or_text_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(b'{"items": []}', "application/json")


def test_entity_bomb_is_refused_quickly_and_small() -> None:
    # Refused before any expansion: the whole body is the original few hundred bytes.
    body = fixture("entity_bomb.xml")
    assert len(body) < 2000
    with pytest.raises(FeedError):
        parse_feed(body)


def test_windows_1258_feed_is_decoded_to_nfc() -> None:
    text = ('<?xml version="1.0" encoding="windows-1258"?><rss version="2.0"><channel>'
            "<title>Báo tỉnh</title><item><title>Hoà Bình, Đắk Lắk: thuỷ điện tích nước</title>"
            "<link>https://x.vn/1</link><description>Người dân được thông báo trước.</description>"
            "</item></channel></rss>")
    body = cp1258(text)
    assert b"\xcc" in body  # combining grave: the tone marks really are separate characters
    items = parse_body(body, spec=None, content_type="application/rss+xml", url="",
                       fetched_at=FETCHED, local=HCM)
    assert items[0].title == "Hòa Bình, Đắk Lắk: thủy điện tích nước"
    assert unicodedata.is_normalized("NFC", items[0].title)
    assert items[0].summary == "Người dân được thông báo trước."


@pytest.mark.parametrize("declared", ["iso-8859-1", "windows-1252", "us-ascii"])
def test_utf8_body_with_a_wrong_charset_declaration(declared: str) -> None:
    body = (f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel>'
            "<item><title>Đà Nẵng khai trương cầu mới</title><link>https://x.vn/2</link></item>"
            "</channel></rss>").encode()
    items = parse_body(body, spec=None, content_type=f"text/xml; charset={declared}", url="",
                       fetched_at=FETCHED, local=HCM)
    assert items[0].title == "Đà Nẵng khai trương cầu mới"


def test_legacy_bytes_declared_as_utf8_fall_back_to_windows_1258() -> None:
    text = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            "<item><title>Thừa Thiên Huế mưa lớn</title><link>https://x.vn/3</link></item>"
            "</channel></rss>")
    items = parse_body(cp1258(text), spec=None, content_type=None, url="",
                       fetched_at=FETCHED, local=HCM)
    assert items[0].title == "Thừa Thiên Huế mưa lớn"


def test_utf16_feed_with_bom() -> None:
    text = ('<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel>'
            "<item><title>Cà Mau mùa tôm</title><link>https://x.vn/4</link></item>"
            "</channel></rss>")
    items = parse_body(text.encode("utf-16"), spec=None, content_type=None, url="",
                       fetched_at=FETCHED, local=HCM)
    assert items[0].title == "Cà Mau mùa tôm"


def test_a_body_naming_a_local_file_is_not_opened() -> None:
    # feedparser opens a path given as a string; we hand it a stream, never a name.
    with pytest.raises(FeedError):
        parse_feed(str(FIXTURES / "vtv.rss").encode())
