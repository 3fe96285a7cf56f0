"""HTML listing sources: the `mattran` preset on a saved page written to mattran.org.vn's markup."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.errors import FeedError
from feeds.fetch import Fetcher
from feeds.listing import listing_spec, page_url, parse_listing_time, presets
from feeds.read import parse_body, read_source
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = UTC
NOW = datetime(2026, 9, 14, 5, 0, tzinfo=UTC)  # 12:00 in Hà Nội


def test_mattran_preset_selectors() -> None:
    spec = presets()["mattran"]
    assert spec.item == ".list-news article.story"
    assert spec.link == spec.title == ".story__heading a"
    assert (spec.summary, spec.time, spec.page_param) == (".story__summary", ".story__time", "page")


def test_mattran_listing_page() -> None:
    spec = listing_spec("mattran")
    entries = parse_body((FIXTURES / "mattran_listing.html").read_bytes(), spec=spec,
                         content_type="text/html; charset=utf-8", url="https://mattran.org.vn/tin-tuc",
                         fetched_at=NOW, local=HCM)
    titles = [e.title for e in entries]
    assert "Tin nổi bật không thuộc danh sách" not in titles  # outside .list-news
    assert len(entries) == 6
    first = entries[0]
    assert first.title == "Hội nghị giám sát và phản biện xã hội năm 2026"
    assert first.url == "https://mattran.org.vn/tin-tuc/hoi-nghi-giam-sat-phan-bien-xa-hoi-70001"
    assert first.summary.startswith("Ủy ban MTTQ Việt Nam tổ chức hội nghị")
    assert first.published_at == datetime(2026, 9, 14, 1, 30, tzinfo=UTC)  # 08:30 local
    assert entries[1].published_at == NOW - timedelta(minutes=15)  # "15 phút trước"
    assert entries[1].summary == "Các căn nhà được bàn giao trước Tết cho hộ khó khăn."
    assert entries[2].published_at == NOW - timedelta(hours=2)  # "2 giờ trước"
    assert entries[3].published_at == NOW  # "Hôm nay"
    assert entries[4].published_at == NOW - timedelta(days=1)  # "Hôm qua"
    assert entries[5].published_at == NOW and not entries[5].dated  # no time given


def test_saved_page_resolves_links_with_the_preset_base() -> None:
    entries = parse_body((FIXTURES / "mattran_listing.html").read_bytes(),
                         spec=listing_spec("mattran"), content_type=None, url="",
                         fetched_at=NOW, local=HCM)
    assert all(e.url.startswith("https://mattran.org.vn/tin-tuc/") for e in entries)


@pytest.mark.parametrize("text, expected", [
    ("08:30 14/09/2026", datetime(2026, 9, 14, 1, 30, tzinfo=UTC)),
    ("5 phút trước", NOW - timedelta(minutes=5)),
    ("3 giờ trước", NOW - timedelta(hours=3)),
    ("2 ngày trước", NOW - timedelta(days=2)),
    ("hôm nay", NOW),
    ("Hôm nay, 07:15", datetime(2026, 9, 14, 0, 15, tzinfo=UTC)),
    ("hôm qua 20:00", datetime(2026, 9, 13, 13, 0, tzinfo=UTC)),
    ("vừa xong", NOW),
    ("", None),
])
def test_listing_times(text: str, expected: datetime | None) -> None:
    assert parse_listing_time(text, NOW, HCM) == expected


def test_layout_change_is_an_error() -> None:
    with pytest.raises(FeedError, match="no items match"):
        parse_body(b"<html><body><div class='news'></div></body></html>",
                   spec=listing_spec("mattran"), content_type=None, url="https://mattran.org.vn/",
                   fetched_at=NOW, local=HCM)


def test_custom_selectors_and_unknown_preset() -> None:
    spec = listing_spec(None, {"item": "li.tin", "link": "a", "pages": 50})
    assert spec.pages == 10 and spec.title == ""
    with pytest.raises(KeyError):
        listing_spec("khong-co")
    with pytest.raises(ValueError):
        listing_spec(None, {"item": "li"})


def test_page_urls() -> None:
    spec = listing_spec("mattran")
    assert page_url("https://mattran.org.vn/tin-tuc?page=4", spec, 1) == \
        "https://mattran.org.vn/tin-tuc"
    assert page_url("https://mattran.org.vn/tin-tuc", spec, 2) == \
        "https://mattran.org.vn/tin-tuc?page=2"


async def test_listing_paging_over_http(feed_server: FeedServer) -> None:
    page1 = (FIXTURES / "mattran_listing.html").read_bytes()
    page2 = (FIXTURES / "mattran_listing_page2.html").read_bytes()
    url = feed_server.add("/tin-tuc", page1, content_type="text/html; charset=utf-8", etag='"p1"')
    feed_server.add("/tin-tuc?page=2", page2, content_type="text/html; charset=utf-8")
    spec = listing_spec("mattran", {"pages": 2})
    async with Fetcher(make_settings("sqlite://")) as fetcher:
        read = await read_source(fetcher, url, spec=spec, fetched_at=NOW, local=HCM)
        again = await read_source(fetcher, url, spec=spec, fetched_at=NOW, local=HCM, etag='"p1"')
    assert read.status == "ok" and len(read.entries) == 7
    assert read.entries[-1].title == "Tổng kết phong trào thi đua yêu nước"
    assert read.entries[-1].published_at == NOW - timedelta(days=3)
    assert read.entries[0].url.startswith(feed_server.base_url)  # resolved against the page
    assert again.status == "unchanged"
    assert feed_server.hits("/tin-tuc?page=2") == 1  # page 2 only when page 1 changed
