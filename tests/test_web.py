"""The public pages and Atom feeds (web/), through a real socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime

import feedparser
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from catalog import topic_name
from config import ConfigError, listen_addr
from runtime import App, open_app
from services import browse
from storage.views import ItemView
from tests.conftest import make_settings
from tests.delivery_support import T0, add_item, add_source
from web import pages
from web.pages import pages_app

NOW = T0 + timedelta(hours=12)
HOUSING, RELIEF = "nha-dai-doan-ket", "thien-tai-cuu-tro"


async def fill(app: App) -> None:
    """Hà Nội (01): 60 housing items and one relief item with a marked title; Huế (46): one."""
    app.clock = lambda: NOW
    async with app.sessions() as session:
        source = await add_source(session, "Báo Hà Nội <Mới>")
        for n in range(60):
            await add_item(session, source, f"Bàn giao nhà Đại đoàn kết số {n}", "Tóm tắt",
                           provinces=["01"], topics=[HOUSING],
                           published_at=NOW - timedelta(hours=n))
        await add_item(session, source, "Hỗ trợ người dân vùng lũ quét <script>x</script>",
                       "Cứu trợ & khắc phục", provinces=["01", "46"], topics=[RELIEF],
                       published_at=NOW - timedelta(minutes=30))
        await add_item(session, source, "Tin cũ", provinces=["46"],
                       published_at=NOW - timedelta(days=9))
        await session.commit()


@pytest.fixture
async def server(sqlite_url: str) -> AsyncIterator[TestServer]:
    # The first chart imports matplotlib: on a loaded machine that alone may take seconds.
    app = open_app(make_settings(sqlite_url, web_timeout_seconds=60))
    await fill(app)
    try:
        async with TestServer(pages_app(app), host="127.0.0.1") as test_server:
            yield test_server
    finally:
        await app.close()


async def _get(server: TestServer, path: str,
               **headers: str) -> tuple[int, str, CIMultiDict[str]]:
    async with ClientSession() as http, http.get(server.make_url(path), headers=headers) as resp:
        return resp.status, await resp.text(), resp.headers.copy()


async def test_every_kind_of_feed_parses_with_its_categories(app: App) -> None:
    await fill(app)
    async with TestServer(pages_app(app), host="127.0.0.1") as server:
        kinds = [("/atom/p/01", "01", None), ("/atom/t/" + RELIEF, None, RELIEF),
                 (f"/atom/p/01/t/{HOUSING}", "01", HOUSING)]
        for path, province, topic in kinds:
            status, body, headers = await _get(server, path)
            assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
            parsed = feedparser.parse(body)
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            assert parsed.version == "atom10"
            assert len(parsed.entries) == (1 if topic == RELIEF else browse.FEED_ENTRIES)
            alternate = [link.href for link in parsed.feed.links if link.rel == "alternate"]
            assert alternate and alternate[0].startswith(str(server.make_url("/")))
            for entry in parsed.entries:
                terms = {(tag.term, tag.label) for tag in entry.tags}
                if province:
                    assert (province, "Hà Nội") in terms
                if topic == HOUSING:
                    assert (HOUSING, topic_name(HOUSING)) in terms, terms
                assert entry.link.startswith("https://example.vn/tin/")
                assert entry.published_parsed and entry.author == "Báo Hà Nội <Mới>"
            first = parsed.entries[0]
            if topic == RELIEF:  # both provinces, each with its code and name
                assert {("01", "Hà Nội"), ("46", "Huế"), (RELIEF, topic_name(RELIEF))} <= {
                    (tag.term, tag.label) for tag in first.tags}
                assert first.title == "Hỗ trợ người dân vùng lũ quét <script>x</script>"
                assert first.summary == "Cứu trợ & khắc phục"
        status, body, _ = await _get(server, f"/atom/t/{RELIEF}?lang=en")
        tags = feedparser.parse(body).entries[0].tags
        assert status == 200 and (RELIEF, topic_name(RELIEF, "en")) in {
            (tag.term, tag.label) for tag in tags}


async def test_feeds_answer_conditional_gets_with_304(server: TestServer) -> None:
    status, _, headers = await _get(server, "/atom/p/01")
    assert status == 200 and headers["Cache-Control"].startswith("public, max-age=")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert modified == format_datetime(NOW, usegmt=True)
    status, body, again = await _get(server, "/atom/p/01", **{"If-None-Match": etag})
    assert (status, body, again["ETag"]) == (304, "", etag)
    assert (await _get(server, "/atom/p/01", **{"If-Modified-Since": modified}))[0] == 304
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert (await _get(server, "/atom/p/01", **{"If-Modified-Since": earlier}))[0] == 200
    # A stale tag wins over a date: the feed is sent again.
    stale = {"If-None-Match": '"old"', "If-Modified-Since": modified}
    assert (await _get(server, "/atom/p/01", **stale))[0] == 200


async def test_home_lists_the_34_provinces_with_their_week(server: TestServer) -> None:
    status, body, headers = await _get(server, "/")
    assert status == 200 and 'name="viewport"' in body and headers["Cache-Control"]
    assert body.count('href="/p/') == 34
    assert '<span class="name">Hà Nội</span> <span class="count"' in body
    assert ">61</span>" in body  # Hà Nội's 61 items this week; Huế's old item is not counted
    status, english, _ = await _get(server, "/?lang=en")
    assert status == 200 and 'href="/p/01?lang=en"' in english and "Civic news" in english


async def test_province_page_groups_filters_pages_and_searches(server: TestServer) -> None:
    status, body, _ = await _get(server, "/p/01")
    assert status == 200
    assert f"<h2>{topic_name(RELIEF)}</h2>" in body and f"<h2>{topic_name(HOUSING)}</h2>" in body
    assert body.count('class="title"') == browse.PER_PAGE
    assert 'rel="next" href="/p/01?page=2"' in body and 'href="/atom/p/01"' in body
    status, body, _ = await _get(server, f"/p/01?topic={RELIEF}")
    assert body.count('class="title"') == 1 and f'href="/atom/p/01/t/{RELIEF}"' in body
    status, body, _ = await _get(server, "/p/01?page=4")
    assert body.count('class="title"') == 61 - 3 * browse.PER_PAGE and 'rel="next"' not in body
    # Typed without diacritics, the search finds the marked title; the topic filter narrows it.
    status, body, _ = await _get(server, "/p/01?q=lu+quet")
    assert status == 200 and "1 tin cho" in body and "vùng lũ quét" in body
    status, body, _ = await _get(server, f"/p/01?q=ban+giao&topic={HOUSING}&page=2")
    assert "60 tin cho" in body and 'rel="prev" href="/p/01?page=1&amp;topic=' in body
    status, body, _ = await _get(server, "/p/46?q=ban+giao")
    assert "0 tin cho" in body


async def test_report_shows_counts_and_its_chart(server: TestServer) -> None:
    status, body, _ = await _get(server, "/p/01/report?lang=en")
    assert status == 200 and "61 items" in body and 'src="/p/01/report.png?lang=en"' in body
    assert "<td>Nhà Đại đoàn kết</td>" not in body and "<td>60</td>" in body
    async with ClientSession() as http, http.get(server.make_url("/p/01/report.png")) as resp:
        assert resp.status == 200 and resp.content_type == "image/png"
        assert (await resp.read()).startswith(b"\x89PNG")


async def test_output_is_escaped(server: TestServer) -> None:
    _, body, _ = await _get(server, "/p/01")
    assert "<script>" not in body and "&lt;script&gt;x&lt;/script&gt;" in body
    _, body, _ = await _get(server, "/p/01?q=%22%3E%3Cscript%3E")
    assert "<script>" not in body and 'value="&#34;&gt;&lt;script&gt;"' in body
    _, body, _ = await _get(server, "/atom/p/01")
    assert "<script>" not in body and "Báo Hà Nội &lt;Mới&gt;" in body


@pytest.mark.parametrize("path, status", [
    ("/p/99", 404), ("/p/01%27", 404), ("/atom/t/nope", 404), ("/atom/p/99/t/bau-cu", 404),
    ("/nowhere", 404), ("/p/01?page=0", 400), ("/p/01?page=51", 400), ("/p/01?page=x", 400),
    ("/p/01?lang=fr", 400), ("/p/01?topic=nope", 400), ("/p/01?q=" + "a" * 257, 400),
    ("/p/01?q=a%00b", 400), ("/?lang=en&page=2", 200),
])
async def test_bad_codes_and_parameters_get_a_page_not_a_traceback(
        server: TestServer, path: str, status: int) -> None:
    got, body, headers = await _get(server, path)
    assert got == status
    assert "Traceback" not in body and "<html" in body and headers["X-Content-Type-Options"]
    if status == 404:
        assert "Không có trang này." in body


async def test_writes_are_refused(server: TestServer) -> None:
    async with ClientSession() as http, http.post(server.make_url("/p/01")) as resp:
        assert resp.status == 405 and "chỉ để đọc" in await resp.text()


async def test_a_slow_request_is_cut_off(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_app(make_settings(sqlite_url, web_timeout_seconds=0.05))

    async def never(*args: object) -> dict[str, int]:
        await asyncio.Event().wait()
        return {}

    monkeypatch.setattr(browse, "province_counts", never)
    try:
        async with TestServer(pages_app(app), host="127.0.0.1") as server:
            status, body, _ = await _get(server, "/")
            assert status == 503 and "thử lại" in body
    finally:
        await app.close()


def _root(app: App) -> web.Application:
    """The server's application as WEB_ADDR's server builds it (web.server, web.pages.mount)."""
    from web import pages

    root = web.Application()
    pages.mount(app)(root)
    return root


async def test_served_under_a_prefix(sqlite_url: str) -> None:
    app = open_app(make_settings(sqlite_url, web_prefix="/loa/",
                                 public_base_url="https://loa.example"))
    await fill(app)
    try:
        async with TestServer(_root(app), host="127.0.0.1") as server:
            status, body, _ = await _get(server, "/loa/p/01")
            assert status == 200 and 'href="/loa/p/01/report"' in body
            assert 'href="/loa/static/style.css"' in body
            assert (await _get(server, "/loa/static/style.css"))[0] == 200
            _, feed, _ = await _get(server, "/loa/atom/p/01")
            assert 'href="https://loa.example/loa/p/01"' in feed
            # A proxy that strips its own prefix names it; links follow.
            _, body, headers = await _get(server, "/loa/", **{"X-Forwarded-Prefix": "/tin"})
            assert 'href="/tin/p/01"' in body and headers["Vary"] == "X-Forwarded-Prefix"
            _, body, _ = await _get(server, "/loa/", **{"X-Forwarded-Prefix": '/"><x'})
            assert 'href="/loa/p/01"' in body
    finally:
        await app.close()


async def test_pages_and_health_share_one_server_when_the_addresses_are_equal(
        sqlite_url: str) -> None:
    from web import ops, pages
    from web.server import Site, start_web

    app = open_app(make_settings(sqlite_url, web_addr="127.0.0.1:0"))
    servers = await start_web([Site("METRICS_ADDR", "127.0.0.1:0", ops.mount(app, {})),
                               Site("WEB_ADDR", "127.0.0.1:0", pages.mount(app))])
    try:
        host, port = servers.bound["WEB_ADDR"]
        assert servers.bound["METRICS_ADDR"] == (host, port)
        async with ClientSession() as http:
            async with http.get(f"http://{host}:{port}/p/01") as resp:
                assert resp.status == 200 and "Hà Nội" in await resp.text()
            async with http.get(f"http://{host}:{port}/healthz") as resp:
                assert resp.status == 200
    finally:
        await servers.stop()
        await app.close()


@pytest.mark.parametrize("setting, value", [
    ("web_addr", "8080"), ("web_addr", "127.0.0.1:http"), ("web_addr", "127.0.0.1:70000"),
    ("web_addr", "a b:80"), ("web_prefix", "loa"), ("web_prefix", "/lo a"),
    ("web_prefix", "/<x>"),
])
def test_bad_web_settings_name_themselves(sqlite_url: str, setting: str, value: str) -> None:
    with pytest.raises(ConfigError, match=setting.upper()):
        make_settings(sqlite_url, **{setting: value})


def test_web_settings(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, web_addr="[::1]:8080", web_prefix="/tin/loa/")
    assert (listen_addr(settings.web_addr), settings.web_prefix) == (("::1", 8080),
                                                                         "/tin/loa")
    assert make_settings(sqlite_url).web_addr == ""  # off by default


async def test_pages_follow_the_labels_dates(app: App) -> None:
    """The label rows' copy of the date (migration 0005's triggers) orders the pages: a new
    label takes its item's date and a re-dated item moves; copies and other labels stay out."""
    from sqlalchemy import select, update

    from storage.models import Item, ItemProvince, ItemTopic

    async with app.sessions() as session:
        source = await add_source(session, "Báo Huế")
        ids = [await add_item(session, source, f"Tin {n}", provinces=["46"],
                              topics=[HOUSING] if n % 2 else [],
                              published_at=NOW - timedelta(hours=n)) for n in range(6)]
        await add_item(session, source, "Bản sao", provinces=["46"], topics=[HOUSING],
                       published_at=NOW, duplicate_of=ids[0])
        await add_item(session, source, "Tin Hà Nội", provinces=["01"], topics=[HOUSING],
                       published_at=NOW)
        await session.commit()
    page = await browse.newest(app, province="46", per_page=4)
    assert [i.id for i in page.items] == ids[:4] and page.has_next
    assert [i.id for i in (await browse.newest(app, province="46", page=2, per_page=4)).items
            ] == ids[4:]
    both = await browse.newest(app, province="46", topic=HOUSING, per_page=2)
    assert [i.id for i in both.items] == [ids[1], ids[3]] and both.has_next
    async with app.sessions() as session:
        await session.execute(update(Item).where(Item.id == ids[5])
                              .values(published_at=NOW + timedelta(hours=1)))
        await session.commit()
        for label in (ItemProvince, ItemTopic):
            dated = (await session.execute(select(label.published_at, Item.published_at)
                                           .join(Item, Item.id == label.item_id))).all()
            assert dated and all(copy == own for copy, own in dated)
    assert (await browse.newest(app, topic=HOUSING, per_page=1)).items[0].id == ids[5]
    assert (await browse.newest(app, province="46", per_page=1)).items[0].id == ids[5]


async def test_a_built_feed_serves_again_until_an_item_comes(
        server: TestServer, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str | None] = []
    feed_items = browse.feed_items

    async def counted(app: App, *, province: str | None = None,
                      topic: str | None = None) -> list[ItemView]:
        built.append(province or topic)
        return await feed_items(app, province=province, topic=topic)

    monkeypatch.setattr(browse, "feed_items", counted)
    status, first, headers = await _get(server, "/atom/p/46")
    assert status == 200 and built == ["46"]
    again = await _get(server, "/atom/p/46", **{"If-None-Match": headers["ETag"]})
    assert again[0] == 304 and (await _get(server, "/atom/p/46"))[1] == first
    assert built == ["46"]
    assert (await _get(server, "/atom/p/46?lang=en"))[0] == 200 and built == ["46", "46"]
    app = server.app[pages.APP_KEY]
    async with app.sessions() as session:
        source = await add_source(session, "Báo Huế")
        await add_item(session, source, "Tin mới ở Huế", provinces=["46"], published_at=NOW)
        await session.commit()
    status, body, newer = await _get(server, "/atom/p/46", **{"If-None-Match": headers["ETag"]})
    assert status == 200 and "Tin mới ở Huế" in body and newer["ETag"] != headers["ETag"]
    assert built == ["46", "46", "46"]
