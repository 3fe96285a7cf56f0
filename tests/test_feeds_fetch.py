"""The fetcher against a real local HTTP server: every way a server can misbehave ends in a
result with a readable reason, and memory and time stay bounded."""

import asyncio
import gzip
import zlib

import pytest

from feeds.fetch import Fetcher
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer, gzip_bomb

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def fetcher(**overrides: object) -> Fetcher:
    values = {"http_timeout_seconds": 5.0, "http_max_bytes": 200_000, **overrides}
    return Fetcher(make_settings("sqlite://", **values))


async def test_plain_fetch_returns_body_and_validators(feed_server: FeedServer) -> None:
    url = feed_server.add("/rss", FEED, etag='"v1"', last_modified="Mon, 14 Sep 2026 11:44:00 GMT")
    async with fetcher() as f:
        result = await f.fetch(url)
    assert result.status == "ok" and result.body == FEED and result.http_status == 200
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 14 Sep 2026 11:44:00 GMT"
    assert result.content_type.startswith("application/rss+xml")
    assert "LoaBot" in feed_server.last_headers("/rss")["user-agent"]


async def test_conditional_get_with_etag_and_last_modified(feed_server: FeedServer) -> None:
    url = feed_server.add("/etag", FEED, etag='"v1"')
    lm_url = feed_server.add("/lm", FEED, last_modified="Mon, 14 Sep 2026 11:44:00 GMT")
    async with fetcher() as f:
        again = await f.fetch(url, etag='"v1"')
        changed = await f.fetch(url, etag='"v0"')
        lm = await f.fetch(lm_url, last_modified="Mon, 14 Sep 2026 11:44:00 GMT")
    assert again.status == "unchanged" and again.http_status == 304 and again.ok
    assert feed_server.last_headers("/etag")["if-none-match"] == '"v0"'
    assert changed.status == "ok"
    assert lm.status == "unchanged"
    assert feed_server.last_headers("/lm")["if-modified-since"] == "Mon, 14 Sep 2026 11:44:00 GMT"


async def test_empty_200_counts_as_unchanged(feed_server: FeedServer) -> None:
    url = feed_server.add("/empty", b"  \n")
    async with fetcher() as f:
        result = await f.fetch(url)
    assert result.status == "unchanged" and result.error is None


async def test_gzip_body_is_decoded(feed_server: FeedServer) -> None:
    url = feed_server.add("/gz", FEED, gzip=True)
    deflated = feed_server.add("/deflate", zlib.compress(FEED),
                               headers={"Content-Encoding": "deflate"})
    async with fetcher() as f:
        assert (await f.fetch(url)).body == FEED
        assert (await f.fetch(deflated)).body == FEED


async def test_gzip_bomb_is_stopped_at_the_cap(feed_server: FeedServer) -> None:
    bomb = gzip_bomb(50 << 20)  # 50 MB of zeros in about 50 KB
    assert len(bomb) < 200_000
    url = feed_server.add("/bomb", bomb, gzip=True)
    async with fetcher(http_max_bytes=1_000_000) as f:
        result = await f.fetch(url)
    assert result.status == "error"
    assert "decompresses to more than the 1,000,000-byte cap" in result.error


async def test_oversize_body_is_refused(feed_server: FeedServer) -> None:
    big = b"<rss>" + b"x" * 300_000 + b"</rss>"
    declared = feed_server.add("/big", big)
    chunked = feed_server.add("/big-chunked", big, chunked=True)
    async with fetcher(http_max_bytes=100_000) as f:
        with_length = await f.fetch(declared)
        streamed = await f.fetch(chunked)
    assert with_length.status == "error" and "over the 100,000-byte cap" in with_length.error
    assert streamed.status == "error" and "over the 100,000-byte cap" in streamed.error


async def test_slow_drip_hits_the_total_deadline(feed_server: FeedServer) -> None:
    url = feed_server.add("/drip", FEED, drip=0.05)  # ~4 s for the whole body
    async with fetcher(http_timeout_seconds=0.5) as f:
        result = await f.fetch(url)
    # Each chunk comes within 0.05 s, so only a deadline on the whole fetch can stop it.
    assert result.status == "error" and "within 0.5 s" in result.error


async def test_permanent_redirect_reports_the_new_url(feed_server: FeedServer) -> None:
    new = feed_server.add("/new", FEED)
    old = feed_server.redirect("/old", new, 301)
    chain = feed_server.redirect("/older", "/old", 308)
    async with fetcher() as f:
        result = await f.fetch(chain)
    assert result.status == "ok" and result.url == new and result.permanent_url == new
    assert old != new


async def test_temporary_redirect_does_not_move_the_source(feed_server: FeedServer) -> None:
    new = feed_server.add("/today", FEED)
    moved = feed_server.redirect("/moved", new, 301)
    temp = feed_server.redirect("/temp", moved, 302)
    async with fetcher() as f:
        result = await f.fetch(temp)
    assert result.status == "ok" and result.permanent_url is None


async def test_redirect_loop_and_limit(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b", 302)
    loop = feed_server.redirect("/b", "/a", 302)
    for n in range(10):
        feed_server.redirect(f"/hop{n}", f"/hop{n + 1}", 302)
    feed_server.add("/hop10", FEED)
    async with fetcher(http_max_redirects=5) as f:
        looped = await f.fetch(loop)
        too_long = await f.fetch(feed_server.url("/hop0"))
        short = await f.fetch(feed_server.url("/hop6"))
    assert looped.status == "error" and looped.error.startswith("redirect loop")
    assert too_long.status == "error" and "too many redirects (more than 5)" in too_long.error
    assert short.status == "ok"


@pytest.mark.parametrize("status, phrase", [(404, "404 Not Found"), (403, "403 Forbidden"),
                                            (500, "500 Internal Server Error"),
                                            (503, "503 Service Unavailable")])
async def test_http_errors_are_reported(feed_server: FeedServer, status: int, phrase: str) -> None:
    url = feed_server.add(f"/status{status}", b"error page", status=status)
    async with fetcher() as f:
        result = await f.fetch(url)
    assert result.status == "error" and result.error == f"the server answered HTTP {phrase}"


async def test_dns_failure_is_reported() -> None:
    async with fetcher() as f:
        result = await f.fetch("http://nonexistent.invalid/rss")
    assert result.status == "error"
    assert result.error.startswith("DNS lookup failed for nonexistent.invalid")


async def test_connection_refused_is_reported(feed_server: FeedServer) -> None:
    port = feed_server.base_url.rsplit(":", 1)[1]
    feed_server.stop()
    async with fetcher() as f:
        result = await f.fetch(f"http://127.0.0.1:{port}/rss")
    assert result.status == "error" and "could not connect to 127.0.0.1" in result.error


async def test_per_host_concurrency_limit(feed_server: FeedServer) -> None:
    urls = [feed_server.add(f"/slow{n}", FEED, delay=0.1) for n in range(6)]
    async with fetcher(http_per_host_concurrency=2) as f:
        results = await asyncio.gather(*(f.fetch(url) for url in urls))
    assert all(r.status == "ok" for r in results)
    assert feed_server.max_active == 2  # parallel, but never more than two at once


async def test_unsupported_encoding_and_corrupt_gzip(feed_server: FeedServer) -> None:
    brotli = feed_server.add("/br", b"\x00\x01", headers={"Content-Encoding": "br"})
    corrupt = feed_server.add("/corrupt", gzip.compress(FEED)[:20] + b"garbage" * 10,
                              headers={"Content-Encoding": "gzip"})
    async with fetcher() as f:
        assert "unsupported Content-Encoding 'br'" in (await f.fetch(brotli)).error
        assert "compressed body is corrupt" in (await f.fetch(corrupt)).error


@pytest.mark.parametrize("url", ["http://[::1/rss", "http://x.vn:99999/rss", "gopher://x.vn/",
                                 "http:///rss"])
async def test_unusable_urls_are_reported(url: str) -> None:
    async with fetcher() as f:
        result = await f.fetch(url)
    assert result.status == "error" and result.error
