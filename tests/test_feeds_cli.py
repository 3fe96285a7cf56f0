"""`bot.py sources ...` and `bot.py poll --once` as an admin runs them: real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "feeds"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _migrated(sqlite_url: str) -> None:
    """tmp_path/loa.db starts migrated (a copy of the session's template): each `bot.py` below
    finds it at the head in one query. Migrating a new file is tested by the demo's first run."""


def bot(tmp_path: Path, *args: str, level: str = "WARNING") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'loa.db'}", LOG_FILE=str(tmp_path / "loa.log"),
               LOG_LEVEL=level, HTTP_TIMEOUT_SECONDS="3", ALLOW_PRIVATE_SOURCES="true")
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow(weight=7)  # nine `bot.py` processes, one after the other
def test_sources_commands_and_poll_once(tmp_path: Path, feed_server: FeedServer) -> None:
    url = feed_server.add("/rss", (FIXTURES / "sggp.rss").read_bytes())
    added = bot(tmp_path, "sources", "add", url, "--province", "79", "--name", "SGGP")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added source 1: SGGP <{url}> (feed, province 79, active)"

    polled = bot(tmp_path, "poll", "--once", level="INFO")
    assert polled.returncode == 0, polled.stderr
    assert "source 1 SGGP: 2 new (backlog, not pushed)" in polled.stdout
    # Said once: printed, not logged too.
    assert (polled.stdout + polled.stderr).count("polled 1 sources: 2 new items, 0 failed") == 1

    listed = bot(tmp_path, "sources", "list")
    assert listed.returncode == 0
    row = listed.stdout.splitlines()[1].split()
    assert row[:2] == ["1", "active"] and row[4:6] == ["0", "2"]  # errors, items

    assert bot(tmp_path, "sources", "pause", "1").stdout.startswith("paused source 1: SGGP")
    assert "paused" in bot(tmp_path, "sources", "list").stdout.splitlines()[1]
    assert bot(tmp_path, "sources", "resume", url).stdout.startswith("resumed source 1")
    assert bot(tmp_path, "sources", "remove", "1").stdout.startswith("removed source 1")
    assert "no sources yet" in bot(tmp_path, "sources", "list").stdout


def test_poll_once_fails_when_a_source_failed(tmp_path: Path, feed_server: FeedServer) -> None:
    good = feed_server.add("/rss", (FIXTURES / "sggp.rss").read_bytes())
    assert bot(tmp_path, "sources", "add", good, "--name", "SGGP").returncode == 0
    assert bot(tmp_path, "sources", "add", feed_server.url("/missing"),
               "--name", "Gone").returncode == 0
    polled = bot(tmp_path, "poll", "--once")
    assert polled.returncode == 1, polled.stdout
    assert "polled 2 sources: 2 new items, 1 failed" in polled.stdout


def test_sources_test_prints_items_and_stores_nothing(tmp_path: Path) -> None:
    result = bot(tmp_path, "sources", "test", str(FIXTURES / "mattran_listing.html"),
                 "--listing", "mattran")
    assert result.returncode == 0, result.stderr
    assert "6 items (listing); nothing stored" in result.stdout
    assert "2026-09-14 08:30 +0700 (2026-09-14 01:30 UTC)" in result.stdout
    assert "Hội nghị giám sát và phản biện xã hội năm 2026" in result.stdout
    feed = bot(tmp_path, "sources", "test", str(FIXTURES / "baochinhphu.rss"))
    assert "2026-09-14 18:44 +0700 (2026-09-14 11:44 UTC)" in feed.stdout
    assert "no sources yet" in bot(tmp_path, "sources", "list").stdout


@pytest.mark.parametrize("args, message", [
    (["sources", "add", "ftp://x.vn/rss"], "not an http(s) URL"),
    (["sources", "add", "https://x.vn/rss", "--province", "99"], "unknown province '99'"),
    (["sources", "add", "https://x.vn/", "--listing", "nope"], "unknown listing preset 'nope'"),
    (["sources", "remove", "42"], "no source '42'"),
    (["sources", "test", "http://nonexistent.invalid/rss"], "DNS lookup failed"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, args: list[str],
                                               message: str) -> None:
    result = bot(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
