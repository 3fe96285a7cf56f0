"""Normalisation: dates in every form Vietnamese feeds use, text, summaries, links."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from feeds.dates import parse_date, published_at
from feeds.html_text import clean_title, html_to_text
from feeds.normalize import normalize_entry
from feeds.parse import RawEntry
from feeds.urls import canonical_url, resolve

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = UTC
FETCHED = datetime(2026, 9, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("raw, expected", [
    # RFC 822 with every zone spelling (Dân trí, Nhân Dân, VTV) and a two-digit year (Thanh Niên)
    ("Mon, 14 Sep 2026 14:18:47 +0700", datetime(2026, 9, 14, 7, 18, 47, tzinfo=UTC)),
    ("Mon, 14 Sep 2026 18:48:23 +07:00", datetime(2026, 9, 14, 11, 48, 23, tzinfo=UTC)),
    ("Mon, 14 Sep 2026 19:46:22 +07", datetime(2026, 9, 14, 12, 46, 22, tzinfo=UTC)),
    ("Mon, 14 Sep 26 09:13:00 +0700", datetime(2026, 9, 14, 2, 13, tzinfo=UTC)),
    ("Mon, 14 Sep 2026 11:44:00 GMT", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("Mon, 14 Sep 2026 06:44:00 -0500", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("Tue, 14 Sep 2026 18:44:00 +0700", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),  # wrong day
    ("14 Sep 2026 18:44 ICT", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    # US order with AM/PM and no zone (Báo Chính phủ): local time
    ("9/14/2026 6:44:00 PM", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("9/3/2026 8:01:00 AM", datetime(2026, 9, 3, 1, 1, tzinfo=UTC)),
    ("1/12/2026 12:05:00 AM", datetime(2026, 1, 11, 17, 5, tzinfo=UTC)),
    # Vietnamese day/month order, either way round, no zone
    ("14/09/2026 18:44", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("03/09/2026 18:44", datetime(2026, 9, 3, 11, 44, tzinfo=UTC)),
    ("18:44 14/09/2026", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("Thứ hai, 14/9/2026, 18:44 (GMT+7)", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    # ISO 8601
    ("2026-09-14T18:44:00+07:00", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("2026-09-14T11:44:00Z", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
    ("2026-09-14 18:44:00", datetime(2026, 9, 14, 11, 44, tzinfo=UTC)),
])
def test_dates_in_vietnamese_feed_formats(raw: str, expected: datetime) -> None:
    assert parse_date(raw, HCM, FETCHED) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "không rõ", "99/99/2026 99:99"])
def test_missing_or_unreadable_date_means_fetch_time(raw: str | None) -> None:
    assert published_at(raw, HCM, FETCHED) == (FETCHED, False)


def test_date_far_in_the_future_is_not_trusted() -> None:
    assert published_at("Mon, 14 Sep 2027 10:00:00 +0700", HCM, FETCHED) == (FETCHED, False)


def test_ambiguous_numeric_date_that_would_be_future_is_read_the_other_way() -> None:
    # 10/9 read US-style would be 9 October (after the fetch); the feed meant 10 September.
    assert parse_date("9/10/2026 6:00:00 PM", HCM, FETCHED) == datetime(
        2026, 9, 10, 11, 0, tzinfo=UTC)


def test_title_text_is_normalised() -> None:
    # Tone marks unified, zero-width characters and extra spaces gone, NFC.
    assert clean_title("  Hoà   Bình: thuỷ\u200b điện  ") == "Hòa Bình: thủy điện"
    assert clean_title("Ho\u0300a Bi\u0300nh") == "Hòa Bình"  # decomposed (windows-1258 style)
    assert clean_title("Giá &lt;b&gt;vàng&lt;/b&gt; &amp; bạc") == "Giá vàng & bạc"


def test_summary_html_is_stripped_with_related_lists_dropped() -> None:
    sggp_like = (
        '<a href="https://www.sggp.org.vn/x-post1.html"><img src="https://img/x.jpg"/></a>'
        "<p>Triều cường dâng cao chiều 23-9.&nbsp;</p>"
        "<div style=\"clear:both;\"><ul><li><a href='https://a/1'>Bài liên quan một</a></li>"
        "<li><a href='https://a/2'>Bài liên quan hai</a></li></ul></div>"
    )
    assert html_to_text(sggp_like) == "Triều cường dâng cao chiều 23-9."
    assert html_to_text("<p>Đoạn một.</p><p>Đoạn hai.</p>") == "Đoạn một. Đoạn hai."
    assert html_to_text('<p>Tin chính.</p><div class="related-news"><a>Khác</a></div>') \
        == "Tin chính."
    assert html_to_text("<p>Tin chính. Xem thêm: bài khác</p>") == "Tin chính."
    # A list that is part of the summary (no links) stays.
    assert html_to_text("<p>Gồm:</p><ul><li>một</li><li>hai</li></ul>") == "Gồm: một hai"
    assert html_to_text("<script>alert(1)</script><p>An toàn</p>") == "An toàn"


def test_long_summary_is_cut_on_a_word() -> None:
    text = html_to_text("<p>" + "chữ " * 1000 + "</p>", limit=100)
    assert len(text) <= 101 and text.endswith("…") and "  " not in text


@pytest.mark.parametrize("url, expected", [
    ("HTTPS://VnExpress.NET/a-b-1.html?utm_source=rss&utm_medium=rss#comments",
     "https://vnexpress.net/a-b-1.html"),
    ("https://tuoitre.vn/x.htm?fbclid=abc&gclid=1&zarsrc=30&gidzl=z", "https://tuoitre.vn/x.htm"),
    ("https://x.vn/tin?b=2&a=1&utm_campaign=c", "https://x.vn/tin?a=1&b=2"),
    ("http://x.vn:80/a", "http://x.vn/a"),
    ("https://x.vn:8443/a", "https://x.vn:8443/a"),
    ("https://x.vn", "https://x.vn/"),
])
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_relative_links_are_resolved() -> None:
    assert resolve("https://vnexpress.net/rss/kinh-doanh.rss", "/gia-vang-1.html") \
        == "https://vnexpress.net/gia-vang-1.html"
    assert resolve("https://x.vn/rss/a.rss", "b.html") == "https://x.vn/rss/b.html"


def test_entry_normalisation() -> None:
    raw = RawEntry(title="  Thuỷ điện xả lũ ", summary="<p>Hạ du <b>cảnh báo</b></p>",
                   link="/thuy-dien-5200003.html?utm_source=rss#top",
                   published="Mon, 14 Sep 2026 00:03:00 +0700",
                   guid="https://vnexpress.net/thuy-dien-5200003.html?utm_medium=rss")
    entry = normalize_entry(raw, base_url="https://vnexpress.net/rss/thoi-su.rss",
                            fetched_at=FETCHED, local=HCM)
    assert entry is not None
    assert entry.url == "https://vnexpress.net/thuy-dien-5200003.html"
    assert entry.guid == entry.url  # a link GUID compares in canonical form
    assert entry.title == "Thủy điện xả lũ"
    assert entry.summary == "Hạ du cảnh báo"
    assert entry.published_at == datetime(2026, 9, 13, 17, 3, tzinfo=UTC)
    assert entry.published_at.tzinfo is not None and entry.dated


def test_entry_without_link_or_text_is_dropped() -> None:
    base = dict(base_url="https://x.vn/rss", fetched_at=FETCHED, local=HCM)
    assert normalize_entry(RawEntry(title="Không có link", link=""), **base) is None
    assert normalize_entry(RawEntry(title="", link="https://x.vn/a"), **base) is None
    assert normalize_entry(RawEntry(title="JS", link="javascript:void(0)"), **base) is None
    untitled = normalize_entry(RawEntry(title="", link="https://x.vn/a", summary="Chỉ có tóm tắt"),
                               **base)
    assert untitled is not None and untitled.title == "Chỉ có tóm tắt"


def test_opaque_guid_is_kept() -> None:
    entry = normalize_entry(RawEntry(title="T", link="https://x.vn/a", guid=" tag:x.vn,2026:1 "),
                            base_url="", fetched_at=FETCHED, local=HCM)
    assert entry is not None and entry.guid == "tag:x.vn,2026:1"
    assert entry.published_at == FETCHED and not entry.dated
    assert FETCHED - entry.published_at < timedelta(seconds=1)
