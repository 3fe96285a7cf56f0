"""The first-run demo (issue 12, services/demo.py): an empty database on the console gets the
bundled demo sources, replayed on the demo clock through the real poll → classify → match →
deliver path; `/demo off` or a real source ends it. Time is the app's FakeClock: nothing waits
for the demo's real pace."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from cli.run import Running, console, start_services
from config import ROOT
from feeds.fetch import Fetcher
from render.texts import t
from runtime import App, open_app
from services import demo, sources
from storage.models import AuditLog, Source
from tests.conftest import make_settings
from tests.fakes.clock import FakeClock
from tests.waiting import wait_for

LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|alembic|apscheduler", re.I)


async def _source_urls(app: App) -> list[str]:
    async with app.sessions() as session:
        return list(await session.scalars(select(Source.url).order_by(Source.id)))


class Keyboard:
    """The console's real stdin, a pipe the test types into, and its stdout."""

    def __init__(self) -> None:
        read, write = os.pipe()
        self.stdin = os.fdopen(read, "r", encoding="utf-8")
        self._typing = os.fdopen(write, "w", encoding="utf-8")
        self.stdout = io.StringIO()
        self.seen = 0

    def type(self, line: str) -> None:
        self._typing.write(line + "\n")
        self._typing.flush()

    async def expect(self, *texts: str) -> str:
        """What the console printed since the last expect, once it holds every one of `texts`."""
        def printed() -> str | None:
            new = self.stdout.getvalue()[self.seen:]
            return new if all(text in new for text in texts) else None

        new = await wait_for(printed)
        self.seen += len(new)
        return new

    def close(self) -> None:
        self._typing.close()


@pytest.fixture
async def on_console(db_url: str) -> AsyncIterator[tuple[Running, Keyboard, FakeClock[datetime]]]:
    """The whole bot as `bot.py run` starts it with no token (the console), on a fresh database,
    polling at test pace, with the private-source allowance off (the demo needs none) and the
    web pages on (WEB_ADDR)."""
    settings = make_settings(db_url, allow_private_sources=False, poll_interval_seconds=1,
                             poll_min_interval_seconds=1, delivery_poll_seconds=0.05,
                             web_addr="127.0.0.1:0")
    running = await start_services(settings)
    clock = FakeClock(datetime.now(UTC))
    running.app.clock = clock
    keys = Keyboard()
    task = asyncio.create_task(console(running, stdin=keys.stdin, stdout=keys.stdout))
    try:
        yield running, keys, clock
    finally:
        keys.close()
        await asyncio.wait_for(task, 30)
        await running.stop()
        keys.stdin.close()


@pytest.mark.slow
async def test_the_demo_shows_the_whole_loop(
    on_console: tuple[Running, Keyboard, FakeClock[datetime]],
) -> None:
    running, keys, clock = on_console
    greeting = await keys.expect(t("vi", "console_demo"))
    assert "/demo off" in greeting
    assert running.app.settings.database_shown() in greeting

    keys.type("/latest")  # the backlog is there before the console opens
    latest = await keys.expect("Tin mới nhất", "(demo Loa)")
    assert "Đồng Tháp: Tiếp nhận kinh phí ủng hộ xây dựng nhà Đại đoàn kết" in latest
    keys.type("/search dai doan ket")
    found = await keys.expect("dai doan ket", "Đại đoàn kết")
    assert "3 tin" in found
    # The same items on the web pages and in the Atom feeds (issue 15).
    assert running.web is not None
    host, port = running.web.bound["WEB_ADDR"]
    async with ClientSession() as http:
        async with http.get(f"http://{host}:{port}/p/82") as page:  # Đồng Tháp
            assert page.status == 200 and "Tiếp nhận kinh phí ủng hộ" in await page.text()
        async with http.get(f"http://{host}:{port}/atom/p/82") as atom:
            feed = feedparser.parse(await atom.read())
    assert not feed.bozo and any("Đồng Tháp" in entry.title for entry in feed.entries)

    keys.type("/sub nha dai doan ket")
    await keys.expect("Nhà Đại đoàn kết")
    keys.type("/digest instant")
    await keys.expect("ngay khi có tin")

    clock.advance(seconds=30)  # ten items arrive on the demo clock, one a house for the poor
    pushed = await keys.expect("Xây dựng nhà tình nghĩa cho người nghèo và người có công tại "
                               "tỉnh Hà Giang")
    assert "Đồng Tháp" not in pushed  # the backlog is never pushed

    keys.type("/demo off")
    await keys.expect("Đã tắt bản demo: xóa 5 nguồn demo")
    assert await _source_urls(running.app) == []
    assert not LOG_LINE.search(keys.stdout.getvalue())


async def test_the_scheduled_poll_keeps_the_demo_sources_own_interval(db_url: str) -> None:
    """The demo's items arrive every few seconds: its sources are polled at their own interval,
    below POLL_MIN_INTERVAL_SECONDS, which spares only other people's servers."""
    from ingest.handler import Handler

    app = open_app(make_settings(db_url, allow_private_sources=False))
    clock = FakeClock(datetime.now(UTC))
    app.clock = clock
    feeds = await demo.start_demo(app)
    assert feeds is not None
    try:
        clock.advance(seconds=3600)  # past every next check: all five are due
        handler = Handler(app)
        claimed = await handler.claim_due("test")
        assert claimed and {s.health.interval for s in claimed} == {demo.POLL_SECONDS}
        assert {s.health.interval for s in await handler.sources()} == {demo.POLL_SECONDS}
        assert demo.POLL_SECONDS < app.settings.poll_min_interval_seconds
    finally:
        await feeds.stop()
        await app.close()


async def test_a_real_source_ends_the_demo_and_the_demo_comes_once(db_url: str) -> None:
    app = open_app(make_settings(db_url, allow_private_sources=False))
    app.clock = FakeClock(datetime.now(UTC))
    feeds = await demo.start_demo(app)
    assert feeds is not None
    try:
        urls = await _source_urls(app)
        assert len(urls) == 5 and all(demo.is_demo_url(u) for u in urls)
        # Only the demo's own name reaches the loopback server; the policy stays closed.
        host, port = app.local_sites[demo.HOST]
        async with Fetcher(app.settings, local_sites=app.local_sites) as fetcher:
            assert (await fetcher.fetch(urls[0])).status == "ok"
            direct = await fetcher.fetch(f"http://{host}:{port}/tin-trong-nuoc.xml")
        assert direct.refused
        real = await sources.add_source(app, "https://baoangiang.com.vn/rss",
                                        actor="console:local")
        assert await _source_urls(app) == ["https://baoangiang.com.vn/rss"]
    finally:
        await feeds.stop()
    await sources.remove_source(app, real.id)
    assert await demo.start_demo(app) is None  # seeded once per database
    async with app.sessions() as session:
        actions = list(await session.scalars(
            select(AuditLog.action).where(AuditLog.actor.in_(["demo", "console:local"]))))
    assert actions[:1] == ["demo_start"] and "demo_end" in actions
    await app.close()


def _project_copy(root: Path) -> Path:
    """A project root elsewhere: bot.py and config.py copied (the root is config.py's
    directory), the rest linked, and a data/ of its own holding links to the bundled files."""
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in ("data", "__pycache__"):
            continue
        if entry.name in ("bot.py", "config.py"):
            shutil.copy(entry, root / entry.name)
        else:
            (root / entry.name).symlink_to(entry)
    (root / "data").mkdir()
    for entry in (ROOT / "data").iterdir():
        if not (entry.name in ("console", "matplotlib") or ".db" in entry.name
                or entry.suffix == ".log"):
            (root / "data" / entry.name).symlink_to(entry)
    return root


@pytest.mark.slow
def test_run_from_another_directory_uses_the_projects_database_and_env(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "loa")
    (project / ".env").write_text("LOG_FILE=data/from-env.log\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, str(project / "bot.py"), "run"], cwd=elsewhere,
                          env=env, input="/latest\n/search dai doan ket\n", capture_output=True,
                          text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert f"Dữ liệu: sqlite:///{project}/data/loa.db." in out
    assert f"Nhật ký: {project}/data/from-env.log." in out
    assert "Tin mới nhất" in out and "(demo Loa)" in out and "Đại đoàn kết" in out
    assert not LOG_LINE.search(out)
    assert (project / "data" / "loa.db").is_file()
    assert list(elsewhere.iterdir()) == []
    logged = (project / "data" / "from-env.log").read_text(encoding="utf-8")
    assert "alembic" in logged and "demo seeded: 5 sources" in logged
