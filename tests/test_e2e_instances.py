"""Two real `bot.py run` processes on one PostgreSQL database and the fake Bot API, one killed
with SIGKILL while it sends: the other takes over, and together they answer every command once,
deliver every item once (twice only to a chat whose message was in flight at the kill), keep
Telegram's limits (≤ 30 messages in any second, 1 per second per chat, no 429), fetch the feed
once per interval, and never fight over getUpdates (no 409 storm).

Every wait is on a condition (the fake's records, the processes' logs); nothing sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from runtime import open_app
from storage.models import Source
from tests.conftest import make_settings, pg_database
from tests.delivery_support import add_chat, add_item, add_source, add_sub
from tests.e2e_support import FeedItem, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for_sync

# Two bot processes and a kill -9: the longest test after the soak (weight: tests/conftest.py).
pytestmark = pytest.mark.slow(weight=8)

ROOT = Path(__file__).resolve().parents[1]
LEASE = 4.0  # LEADER_LEASE_SECONDS: short, so the takeover is quick
POLL_INTERVAL = 2  # seconds between two fetches of the feed
CATCH_UP_CHATS = range(600_000, 600_020)  # matched at start-up, from an item stored before
ALERT_CHATS = range(700_000, 700_150)  # an item the poller finds while both run
EARLY_USERS = range(50_000, 50_040)  # a burst of commands before the kill
LATE_USERS = range(51_000, 51_020)  # and after it
OLD = FeedItem("Hội nghị tổng kết năm ở Huế", "tong-ket", age_hours=30)
NEW = FeedItem("Lũ lớn ở Huế, hàng nghìn hộ dân được sơ tán", "lu-lon-hue",
               "Nước sông Hương dâng cao, Huế sơ tán hàng nghìn hộ dân.", age_hours=0.1)


async def _fill(url: str, feed_url: str) -> None:
    app = open_app(make_settings(url))
    try:
        async with app.sessions() as session, session.begin():
            session.add(Source(url=feed_url, name="Báo Huế", province="46"))
            src = await add_source(session)
            # Stored before the last stop and never matched: the start-up catch-up's.
            await add_item(session, src, "Hà Nội khởi công cầu mới qua sông Hồng",
                           provinces=["01"], fetched_at=datetime.now(UTC) - timedelta(minutes=5))
            for key in CATCH_UP_CHATS:
                await add_sub(session, await add_chat(session, key), provinces=["01"])
            for key in ALERT_CHATS:
                await add_sub(session, await add_chat(session, key), provinces=["46"])
    finally:
        await app.close()


def _start(name: str, url: str, fake: FakeTelegram, workdir: Path) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": url,
        **{key.upper(): value for key, value in fake.settings_overrides().items()},
        "LEADER_LEASE_SECONDS": str(LEASE),
        "SOURCE_CLAIM_SECONDS": "10",
        "DELIVERY_POLL_SECONDS": "0.05",
        "DELIVERY_CLAIM_TIMEOUT_SECONDS": "10",
        "POLL_INTERVAL_SECONDS": str(POLL_INTERVAL),
        "POLL_MIN_INTERVAL_SECONDS": str(POLL_INTERVAL),
        "ALLOW_PRIVATE_SOURCES": "true",
        "HTTP_TIMEOUT_SECONDS": "5",
        "LOG_LEVEL": "INFO",
        "LOG_FILE": "",
    }
    log = (workdir / f"{name}.log").open("wb")
    # From an empty directory, so no developer's .env is read.
    return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run"], cwd=workdir, env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _log(workdir: Path, name: str) -> str:
    return (workdir / f"{name}.log").read_text(errors="replace")


def _received(fake: FakeTelegram, chats: range) -> Counter[int]:
    return Counter(s.chat_id for s in fake.sent if s.chat_id in chats)


def _in_flight(url: str) -> set[int]:
    """The chats whose message was claimed and not yet recorded as sent."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT c.chat_key FROM deliveries d JOIN chats c ON c.id = d.chat_id"
                            " WHERE d.state = 'sending'").fetchall()
    return {int(key) for (key,) in rows}


async def test_two_instances_share_the_work_and_one_takes_over_after_kill_9(
        pg_template: str, tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with pg_database(pg_template) as url, FeedServer() as feed, \
            FakeTelegram(enforce_limits=True) as fake:
        feed.add("/rss", rss([OLD]))
        await _fill(url, feed.url("/rss"))
        started = time.monotonic()
        try:
            for name in ("a", "b"):
                procs[name] = _start(name, url, fake, workdir)

            def roles() -> tuple[str, str] | None:
                leading = [n for n in procs if "this instance leads" in _log(workdir, n)]
                running = [n for n in procs if "Loa is running" in _log(workdir, n)]
                dead = [n for n, p in procs.items() if p.poll() is not None]
                assert not dead, {n: _log(workdir, n) for n in dead}
                if len(running) == 2 and len(leading) == 1:
                    return leading[0], next(n for n in procs if n != leading[0])
                return None

            leader, standby = wait_for_sync(roles)
            phases = {"up": time.monotonic() - started}
            assert "standing by" in _log(workdir, standby)

            # A burst of commands: each answered once, paced.
            for user in EARLY_USERS:
                fake.push_message(user, user, "/id")
            wait_for_sync(lambda: set(_received(fake, EARLY_USERS)) == set(EARLY_USERS))
            wait_for_sync(lambda: set(_received(fake, CATCH_UP_CHATS)) == set(CATCH_UP_CHATS))
            phases["commands"] = time.monotonic() - started

            # News for 150 chats; the leader dies while sending them.
            feed.add("/rss", rss([NEW, OLD]))
            wait_for_sync(lambda: sum(_received(fake, ALERT_CHATS).values()) >= 40)
            procs[leader].send_signal(signal.SIGKILL)
            procs[leader].wait(timeout=30)
            killed_at = time.monotonic()
            phases["kill"] = killed_at - started
            in_flight = _in_flight(url)
            sent_at_kill = len(fake.sent)

            for user in LATE_USERS:
                fake.push_message(user, user, "/id")
            wait_for_sync(lambda: set(_received(fake, ALERT_CHATS)) == set(ALERT_CHATS))
            wait_for_sync(lambda: set(_received(fake, LATE_USERS)) == set(LATE_USERS))
            # Only the new leader can answer the commands sent after the kill.
            takeover = min(s.time for s in fake.sent if s.chat_id in LATE_USERS) - killed_at
            assert "this instance leads" in _log(workdir, standby)
            phases["done"] = time.monotonic() - started
            procs[standby].send_signal(signal.SIGTERM)
            assert procs[standby].wait(timeout=60) == 0, _log(workdir, standby)
            elapsed = time.monotonic() - started
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        limits = fake.limit_report()
        conflicts = [e for e in fake.errors if e[0] == "getUpdates" and e[2] == 409]
        feed_hits = feed.hits("/rss")

    for users in (EARLY_USERS, LATE_USERS, CATCH_UP_CHATS):
        assert set(_received(fake, users).values()) == {1}  # answered once, delivered once
    alerts = _received(fake, ALERT_CHATS)
    twice = {chat for chat, n in alerts.items() if n > 1}
    assert max(alerts.values()) <= 2 and twice <= in_flight, (twice, in_flight)
    assert limits["max_global_per_second"] <= 30, limits
    assert limits["max_private_per_second"] <= 1, limits
    assert limits["count_429"] == 0, limits
    assert len(conflicts) <= 2, conflicts  # the dead leader's abandoned long poll, at most
    assert takeover < 30
    # Each fetch was one instance's: at most one per interval (and the first one).
    assert feed_hits <= elapsed / POLL_INTERVAL + 2, (feed_hits, elapsed)
    print(f"\ninstances: leader {leader} killed after {sent_at_kill} messages, takeover "
          f"{takeover:.1f}s, {len(twice)} duplicate(s) of {len(in_flight)} in flight, "
          f"max {limits['max_global_per_second']}/s, {len(conflicts)} getUpdates 409, "
          f"feed fetched {feed_hits} times in {elapsed:.0f}s; phases {phases}")
