"""The sources service (shared by the CLI and the chat admin commands), on both engines."""

from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import sources
from services.errors import ServiceError
from storage.models import AuditLog, Item
from tests.fakes.feed_server import FeedServer

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


async def audit_rows(app) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        rows = await session.execute(select(AuditLog.actor, AuditLog.action, AuditLog.target)
                                     .order_by(AuditLog.id))
        return [tuple(row) for row in rows]


async def test_add_list_pause_resume_remove_with_audit(app) -> None:  # type: ignore[no-untyped-def]
    feed = await sources.add_source(app, "https://VnExpress.net/rss/thoi-su.rss?utm_source=x",
                                    province="1", actor="telegram:42")
    assert feed.url == "https://vnexpress.net/rss/thoi-su.rss"
    # Unnamed: its first read names it after the feed's title.
    assert (feed.kind, feed.province, feed.name, feed.state) == ("feed", "01", "", "active")
    listing = await sources.add_source(app, "https://mattran.org.vn/tin-tuc", name="Mặt trận",
                                       listing="mattran", province="Hưng Yên")
    assert (listing.kind, listing.listing_preset, listing.province) == ("listing", "mattran", "33")

    listed = await sources.list_sources(app)
    assert [(s.id, s.items, s.state) for s in listed] == [(feed.id, 0, "active"),
                                                          (listing.id, 0, "active")]
    paused = await sources.pause_source(app, feed.id, actor="telegram:42")
    assert paused.state == "paused" and paused.paused_reason == "paused by telegram:42"
    resumed = await sources.resume_source(app, "https://vnexpress.net/rss/thoi-su.rss")
    assert resumed.state == "active" and resumed.paused_reason is None
    removed = await sources.remove_source(app, str(listing.id))
    assert removed.id == listing.id
    assert [s.id for s in await sources.list_sources(app)] == [feed.id]
    assert await audit_rows(app) == [
        ("telegram:42", "source_add", feed.url),
        ("cli", "source_add", "https://mattran.org.vn/tin-tuc"),
        ("telegram:42", "source_pause", feed.url),
        ("cli", "source_resume", feed.url),
        ("cli", "source_remove", "https://mattran.org.vn/tin-tuc"),
    ]


@pytest.mark.parametrize("url, options, code", [
    ("ftp://x.vn/rss", {}, "bad_url"),
    ("not a url", {}, "bad_url"),
    ("https://x.vn/" + "a" * 3000, {}, "bad_url"),
    ("https://x.vn/rss", {"province": "99"}, "bad_province"),
    # A former name is read as its current province (33), as in chat: one reader for both.
    ("https://x.vn/rss", {"province": "Không Có"}, "bad_province"),
    ("https://x.vn/", {"listing": "khong-co"}, "unknown_preset"),
])
async def test_bad_input_is_refused(sqlite_app, url: str, options: dict, code: str) -> None:  # type: ignore[no-untyped-def, type-arg]
    with pytest.raises(ServiceError) as caught:
        await sources.add_source(sqlite_app, url, **options)
    assert caught.value.code == code and caught.value.reason
    assert await sources.list_sources(sqlite_app) == []
    assert await audit_rows(sqlite_app) == []


async def test_duplicate_and_unknown_sources(app) -> None:  # type: ignore[no-untyped-def]
    await sources.add_source(app, "https://x.vn/rss")
    with pytest.raises(ServiceError) as caught:
        await sources.add_source(app, "https://X.vn/rss#top")
    assert caught.value.code == "source_exists"
    for ref in ("999", "https://y.vn/rss", "abc"):
        with pytest.raises(ServiceError) as missing:
            await sources.pause_source(app, ref)
        assert missing.value.code == "source_not_found"


async def test_dry_run_of_a_url_and_a_file_stores_nothing(app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    url = feed_server.add("/rss", (FIXTURES / "baochinhphu.rss").read_bytes())
    result = await sources.test_source(app, url)
    assert result.kind == "feed" and len(result.items) == 2
    first = result.items[0]
    assert first.title == "Thủ tướng chỉ đạo đẩy nhanh giải ngân vốn đầu tư công"
    assert first.published_at.isoformat() == "2026-09-14T11:44:00+00:00"
    assert first.published_local.isoformat() == "2026-09-14T18:44:00+07:00"
    listing = await sources.test_source(app, str(FIXTURES / "mattran_listing.html"),
                                        listing="mattran")
    assert listing.kind == "listing" and len(listing.items) == 6
    assert listing.items[0].url.startswith("https://mattran.org.vn/")
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Item)) == 0
    assert await sources.list_sources(app) == []


async def test_dry_run_failures_are_service_errors(app, feed_server: FeedServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    html = feed_server.add("/html", (FIXTURES / "html_page.html").read_bytes(),
                           content_type="text/html")
    cases = [
        (html, "source_test_failed", "HTML page"),
        (feed_server.add("/gone", b"", status=404), "source_test_failed", "404"),
        ("http://nonexistent.invalid/rss", "source_test_failed", "DNS lookup failed"),
        (str(tmp_path / "missing.xml"), "bad_url", "neither an http(s) URL nor a readable file"),
        (str(FIXTURES / "entity_bomb.xml"), "source_test_failed", "entities"),
    ]
    for location, code, reason in cases:
        with pytest.raises(ServiceError) as caught:
            await sources.test_source(app, location)
        assert caught.value.code == code and reason in caught.value.reason, location
