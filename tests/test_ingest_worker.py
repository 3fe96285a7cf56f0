"""The poller end to end against a local portal: backlog, new items, conditional GET, bad sources,
backoff, pausing with an admin alert, the outage rule, redirects, scheduling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from classify import Classification, Evidence, EvidenceKind
from delivery import alerts, match
from ingest.handler import snapshot
from ingest.worker import Poller, poll_once, start_polling
from runtime import App, open_app
from services import sources
from storage.models import Chat, Delivery, Item, ItemProvince, ItemTopic, Source, Subscription
from tests.conftest import make_settings
from tests.fakes.clock import FakeClock
from tests.fakes.feed_server import FeedServer, gzip_bomb
from tests.waiting import wait_for

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
START = datetime(2026, 9, 15, 3, 0, tzinfo=UTC)


def rss(*items: tuple[str, str], pub: str = "Mon, 14 Sep 2026 19:46:22 +07") -> bytes:
    body = "".join(f"<item><title>{title}</title><link>{link}</link><pubDate>{pub}</pubDate>"
                   f"<description>Tóm tắt {title}.</description></item>" for title, link in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Báo</title>{body}</channel></rss>").encode()


@pytest.fixture
async def make_app(db_url: str) -> AsyncIterator[Callable[..., App]]:
    """Apps on one fresh database (both engines), with settings overrides and a test clock."""
    opened: list[App] = []

    def factory(**overrides: object) -> App:
        values: dict[str, object] = {"http_timeout_seconds": 2.0, **overrides}
        app = open_app(make_settings(db_url, **values))
        app.clock = FakeClock(START)
        opened.append(app)
        return app

    yield factory
    for app in opened:
        await app.close()


@pytest.fixture
def handed_over(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """What the poller hands to delivery."""
    calls: list[list[int]] = []

    async def on_new_items(app: App, item_ids: list[int]) -> None:
        calls.append(list(item_ids))

    monkeypatch.setattr(match, "on_new_items", on_new_items)
    return calls


@pytest.fixture
def admin_alerts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    texts: list[str] = []

    async def alert_admins(app: App, alert: alerts.Alert, **params: object) -> None:
        texts.append(f"{alert}: {params}")

    monkeypatch.setattr(alerts, "alert_admins", alert_admins)
    return texts


async def source_row(app: App, source_id: int) -> Source:
    async with app.sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None
        return source


async def items_of(app: App, source_id: int | None = None) -> list[Item]:
    async with app.sessions() as session:
        query = select(Item).order_by(Item.id)
        if source_id is not None:
            query = query.where(Item.source_id == source_id)
        return list((await session.scalars(query)).all())


async def test_backlog_then_new_items_then_unchanged(
        make_app, feed_server: FeedServer, handed_over: list[list[int]]) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    url = feed_server.add("/rss", (FIXTURES / "vtv.rss").read_bytes(), etag='"v1"')
    info = await sources.add_source(app, url, province="22")

    first = await poll_once(app)
    assert first.outcomes[0].status == "new" and first.outcomes[0].backlog
    backlog = await items_of(app)
    assert len(backlog) == 2 and all(i.backlog for i in backlog)
    assert handed_over == []  # a new source's backlog is not pushed
    row = await source_row(app, info.id)
    assert row.primed and row.etag == '"v1"' and row.last_success_at == START
    assert row.next_check_at is not None and row.next_check_at > START

    # The feed changes: one new item, the old ones re-ordered.
    feed_server.add("/rss", rss(
        ("Lào Cai khôi phục giao thông sau sạt lở",
         "https://vtv.vn/lao-cai-khoi-phuc-giao-thong-sau-sat-lo-100260914153200002.htm"),
        ("Hà Tĩnh sơ tán dân trước bão", "https://vtv.vn/ha-tinh-so-tan-dan-100260915000000003.htm"),
        ("Quảng Ninh chủ động ứng phó bão số 5",
         "https://vtv.vn/quang-ninh-chu-dong-ung-pho-bao-so-5-100260914145700001.htm?utm_source=x"),
    ), etag='"v2"')
    app.clock.advance(minutes=10)
    second = await poll_once(app)
    assert second.outcomes[0].new == 1 and not second.outcomes[0].backlog
    items = await items_of(app)
    assert len(items) == 3
    new = items[-1]
    assert new.title == "Hà Tĩnh sơ tán dân trước bão" and not new.backlog
    assert new.classified_at is not None
    assert handed_over == [[new.id]]

    # Unchanged: a conditional GET answered 304.
    app.clock.advance(minutes=10)
    third = await poll_once(app)
    assert third.outcomes[0].status == "unchanged"
    assert feed_server.last_headers("/rss")["if-none-match"] == '"v2"'
    assert (await source_row(app, info.id)).last_fetch_at == app.clock()
    assert len(await items_of(app)) == 3 and handed_over == [[new.id]]


async def test_every_bad_input_is_recorded_on_its_source_only(
        make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    app = make_app(http_timeout_seconds=0.5, http_max_bytes=100_000, http_max_redirects=3)
    good = feed_server.add("/good", (FIXTURES / "tuoitre.rss").read_bytes())
    feed_server.redirect("/loop-a", "/loop-b", 302)
    feed_server.redirect("/loop-b", "/loop-a", 302)
    bad = {
        "malformed XML": feed_server.add("/malformed", (FIXTURES / "malformed.xml").read_bytes()),
        "HTML page": feed_server.add("/html", (FIXTURES / "html_page.html").read_bytes(),
                                     content_type="text/html; charset=utf-8"),
        "declares XML entities": feed_server.add(
            "/bomb", (FIXTURES / "entity_bomb.xml").read_bytes()),
        "decompresses to more than": feed_server.add("/gzip-bomb", gzip_bomb(20 << 20),
                                                      gzip=True),
        "over the 100,000-byte cap": feed_server.add("/big", b"<rss>" + b"x" * 200_000),
        "no complete answer": feed_server.add("/drip", rss(("T", "https://x.vn/1")), drip=0.05),
        "redirect loop": feed_server.url("/loop-a"),
        "HTTP 404 Not Found": feed_server.add("/gone", b"", status=404),
        "HTTP 500 Internal Server Error": feed_server.add("/broken", b"oops", status=500),
        "DNS lookup failed": "http://nonexistent.invalid/rss",
    }
    ids = {}
    for reason, url in bad.items():
        ids[reason] = (await sources.add_source(app, url)).id
    good_id = (await sources.add_source(app, good)).id

    report = await poll_once(app)
    assert not report.outage and report.failed == len(bad)
    assert len(await items_of(app, good_id)) == 2
    for reason, source_id in ids.items():
        row = await source_row(app, source_id)
        assert row.error_count == 1 and row.state == "active", reason
        assert reason in (row.last_error or ""), (reason, row.last_error)
        assert row.next_check_at is not None and row.next_check_at > START
    assert (await source_row(app, good_id)).error_count == 0


async def test_windows_1258_source_is_ingested(make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    from tests.test_feeds_parse import cp1258

    app = make_app()
    body = cp1258('<?xml version="1.0" encoding="windows-1258"?><rss version="2.0"><channel>'
                  "<item><title>Thuỷ điện Hoà Bình xả đáy</title><link>https://x.vn/1</link>"
                  "</item></channel></rss>")
    url = feed_server.add("/legacy", body, content_type="application/rss+xml; charset=windows-1258")
    await sources.add_source(app, url)
    await poll_once(app)
    [item] = await items_of(app)
    assert item.title == "Thủy điện Hòa Bình xả đáy"
    assert item.title_fold == "thuy dien hoa binh xa day"


async def test_backoff_then_pause_with_admin_alert(
        make_app, feed_server: FeedServer, admin_alerts: list[str]) -> None:  # type: ignore[no-untyped-def]
    app = make_app(source_pause_after_errors=3)
    failing = (await sources.add_source(app, feed_server.add("/down", b"", status=503))).id
    await sources.add_source(app, feed_server.add("/up", rss(("Tin", "https://x.vn/tin"))))
    interval = app.settings.poll_interval_seconds

    await poll_once(app)
    row = await source_row(app, failing)
    assert row.error_count == 1 and row.first_error_at == START
    delay = (row.next_check_at - START).total_seconds()
    assert 2 * interval * 0.9 <= delay <= 2 * interval * 1.1  # backed off

    app.clock.advance(hours=1)
    await poll_once(app)
    row = await source_row(app, failing)
    assert row.error_count == 2 and row.first_error_at == START
    assert (row.next_check_at - app.clock()).total_seconds() >= 4 * interval * 0.9
    assert admin_alerts == []

    app.clock.advance(hours=1)
    report = await poll_once(app)
    row = await source_row(app, failing)
    assert row.state == "paused" and report.outcomes[0].paused
    assert "3 failures in a row" in row.paused_reason and "503" in row.paused_reason
    assert len(admin_alerts) == 1 and feed_server.url("/down") in admin_alerts[0]

    # A paused source is not polled; resuming forgets the failures.
    hits = feed_server.hits("/down")
    await poll_once(app)
    assert feed_server.hits("/down") == hits
    resumed = await sources.resume_source(app, failing)
    assert resumed.state == "active" and resumed.error_count == 0


async def test_long_failure_pauses_by_time_and_backoff_is_capped(
        make_app, feed_server: FeedServer, admin_alerts: list[str]) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    failing = (await sources.add_source(app, feed_server.add("/down", b"", status=500))).id
    await sources.add_source(app, feed_server.add("/up", rss(("Tin", "https://x.vn/tin"))))
    async with app.sessions() as session, session.begin():
        row = await session.get(Source, failing)
        row.error_count, row.first_error_at = 10, START - timedelta(days=2)
    await poll_once(app)
    row = await source_row(app, failing)
    assert row.state == "active"
    assert row.next_check_at - START <= timedelta(days=1)  # capped at one day
    app.clock.advance(days=1, minutes=1)
    await poll_once(app)
    assert (await source_row(app, failing)).state == "paused"
    assert len(admin_alerts) == 1


async def test_machine_wide_outage_counts_no_error(
        make_app, feed_server: FeedServer, admin_alerts: list[str]) -> None:  # type: ignore[no-untyped-def]
    app = make_app(source_pause_after_errors=1)
    a = (await sources.add_source(app, "http://nonexistent.invalid/a")).id
    b = (await sources.add_source(app, "http://also-nonexistent.invalid/b")).id
    report = await poll_once(app)
    assert report.outage and report.failed == 2
    for source_id in (a, b):
        row = await source_row(app, source_id)
        assert row.error_count == 0 and row.state == "active"
        assert "not counted" in row.last_error and "DNS lookup failed" in row.last_error
    assert admin_alerts == []


async def test_outage_forgives_failures_counted_since_the_last_success(
        make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    a = (await sources.add_source(app, feed_server.add("/a", rss(("A", "https://x.vn/a"))))).id
    b = (await sources.add_source(app, feed_server.add("/b", rss(("B", "https://x.vn/b"))))).id
    await poll_once(app)
    poller = Poller(app)
    # The network goes: the first source polled alone fails and is counted...
    feed_server.stop()
    app.clock.advance(minutes=5)
    first = await poller.poll([s for s in await _snapshots(app) if s.id == a])
    assert not first.outage and (await source_row(app, a)).error_count == 1
    # ... then the other fails too: every source's latest poll failed, so it was an outage.
    app.clock.advance(minutes=5)
    second = await poller.poll([s for s in await _snapshots(app) if s.id == b])
    assert second.outage
    assert (await source_row(app, a)).error_count == 0
    assert (await source_row(app, b)).error_count == 0


async def _snapshots(app: App) -> list[Any]:
    async with app.sessions() as session:
        return [
            snapshot(row, app.settings) for row in (await session.scalars(select(Source))).all()
        ]


async def test_single_failing_source_is_counted(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    only = (await sources.add_source(app, "http://nonexistent.invalid/rss")).id
    report = await poll_once(app)
    assert not report.outage and (await source_row(app, only)).error_count == 1


async def test_permanent_redirect_updates_the_stored_url(make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    new = feed_server.add("/rss/new", rss(("Tin", "https://x.vn/tin")))
    old = feed_server.redirect("/rss/old", new, 301)
    temp_target = feed_server.add("/rss/today", rss(("Khác", "https://x.vn/khac")))
    temp = feed_server.redirect("/rss/temp", temp_target, 302)
    moved = (await sources.add_source(app, old)).id
    kept = (await sources.add_source(app, temp)).id
    await poll_once(app)
    assert (await source_row(app, moved)).url == new
    assert (await source_row(app, kept)).url == temp
    # The next poll goes straight to the new address.
    await poll_once(app)
    assert feed_server.hits("/rss/old") == 1


async def test_classification_is_stored_with_evidence(
        make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    class Fixed:
        def __init__(self) -> None:
            self.calls: list[tuple[str, str, str | None]] = []

        def classify(self, title: str, summary: str = "", feed_province: str | None = None
                     ) -> Classification:
            self.calls.append((title, summary, feed_province))
            return Classification(provinces=["22"], topics=["thien-tai"], evidence=[
                Evidence(EvidenceKind.PROVINCE, "22", "Quảng Ninh", "Quảng Ninh → 22 Quảng Ninh"),
                Evidence(EvidenceKind.TOPIC, "thien-tai", "bão", "bão"),
            ])

    app = make_app()
    await sources.add_source(app, feed_server.add("/rss", (FIXTURES / "vtv.rss").read_bytes()),
                             province="22")
    fixed = Fixed()
    await Poller(app, classifier=fixed).poll_all()
    assert fixed.calls[0] == ("Quảng Ninh chủ động ứng phó bão số 5",
                              "Tỉnh yêu cầu tàu thuyền vào nơi tránh trú an toàn trước 17 giờ.",
                              "22")
    async with app.sessions() as session:
        provinces = (await session.scalars(select(ItemProvince))).all()
        topics = (await session.scalars(select(ItemTopic))).all()
    assert {p.province for p in provinces} == {"22"} and len(provinces) == 2
    assert provinces[0].evidence == [{"kind": "province", "label": "22", "text": "Quảng Ninh",
                                      "resolved": "Quảng Ninh → 22 Quảng Ninh"}]  # as stored
    assert {t.topic for t in topics} == {"thien-tai"}


async def test_listing_source_is_polled(make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    url = feed_server.add("/tin-tuc", (FIXTURES / "mattran_listing.html").read_bytes(),
                          content_type="text/html; charset=utf-8")
    await sources.add_source(app, url, listing="mattran")
    report = await poll_once(app)
    assert report.outcomes[0].new == 6


async def test_poll_due_follows_the_schedule_and_never_overlaps(
        make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    source = (await sources.add_source(
        app, feed_server.add("/slow", rss(("Tin", "https://x.vn/tin")), delay=0.3))).id
    poller = Poller(app)
    # Two overlapping runs: the source is polled once.
    first, second = await asyncio.gather(poller.poll_due(), poller.poll_due())
    assert feed_server.hits("/slow") == 1
    assert len(first.outcomes) + len(second.outcomes) == 1
    # Not due again until its next check.
    assert (await poller.poll_due()).outcomes == []
    due = (await source_row(app, source)).next_check_at
    app.clock.now = due + timedelta(seconds=1)
    assert len((await poller.poll_due()).outcomes) == 1
    assert feed_server.hits("/slow") == 2


async def test_items_whose_matching_failed_are_matched_at_the_next_poll(
        make_app, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The database went away between storing new items and matching them: the next poll
    matches them, so instant subscribers still get them (not only after a restart)."""
    app = make_app()
    async with app.sessions() as session, session.begin():
        chat = Chat(channel="telegram", chat_key="42")
        session.add(chat)
        await session.flush()
        session.add(Subscription(chat_id=chat.id, mode="instant"))  # every item
    await sources.add_source(app, feed_server.add("/rss", rss(("Tin cũ", "https://x.vn/1"))))
    poller = Poller(app)
    await poller.poll_due()  # the backlog
    feed_server.add("/rss", rss(("Tin cũ", "https://x.vn/1"), ("Tin mới", "https://x.vn/2")))
    real = match.on_new_items

    async def outage(app: App, item_ids: list[int]) -> None:
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(match, "on_new_items", outage)
    app.clock.advance(hours=1)
    assert (await poller.poll_due()).new_items == 1
    monkeypatch.setattr(match, "on_new_items", real)

    async def queued() -> list[Delivery]:
        async with app.sessions() as session:
            return list((await session.scalars(select(Delivery))).all())

    assert await queued() == []
    await poller.poll_due()  # nothing is due: the catch-up alone
    rows = await queued()
    assert [(r.kind, r.payload["items"]) for r in rows] == [
        ("instant", [(await items_of(app))[-1].id])]
    await poller.poll_due()
    assert len(await queued()) == 1  # matched once


async def test_scheduler_job_polls_due_sources(make_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    app.clock = lambda: datetime.now(UTC)
    await sources.add_source(app, feed_server.add("/rss", (FIXTURES / "vtv.rss").read_bytes()))
    scheduler = AsyncIOScheduler(timezone="UTC")
    start_polling(app, scheduler, tick_seconds=0.05)
    scheduler.start()
    try:
        async def stored() -> int:
            async with app.sessions() as session:
                return int(await session.scalar(select(func.count()).select_from(Item)) or 0)
        assert await wait_for(stored) == 2
    finally:
        scheduler.shutdown(wait=False)
    job_ids = [job.id for job in scheduler.get_jobs()]
    assert job_ids == [] or job_ids == ["loa.poll_due"]

