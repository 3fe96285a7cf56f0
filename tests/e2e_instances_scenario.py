"""Two real `bot.py run` processes on one PostgreSQL database and the fake Bot API, one killed
with SIGKILL while it sends: the scenario of tests/test_e2e_instances.py (which asserts on its
report) and of bench/instances.py (which prints it).

`run_two_instances(url, workdir)` takes a migrated, empty PostgreSQL database, starts the local
feed server and the fake Bot API (enforcing Telegram's limits), fills the database, starts two
instances, waits until one leads and the other stands by, sends a burst of commands, publishes
an item for 150 chats, kills the leader with SIGKILL once 40 of them have it, sends more
commands, waits until everything has arrived, stops the survivor with SIGTERM, and returns what
happened: an `InstancesReport`. Each process's log is `workdir/<name>.log` (and in the report).

Every wait is on a condition (the fake's records, the processes' logs); nothing sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from runtime import open_app
from storage.models import Source
from tests.conftest import make_settings
from tests.delivery_support import add_chat, add_item, add_source, add_sub
from tests.e2e_support import FeedItem, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for_sync

ROOT = Path(__file__).resolve().parents[1]
LEASE = 4.0  # LEADER_LEASE_SECONDS: short, so the takeover is quick
POLL_INTERVAL = 2  # seconds between two fetches of the feed
CATCH_UP_CHATS = range(600_000, 600_020)  # matched at start-up, from an item stored before
ALERT_CHATS = range(700_000, 700_150)  # an item the poller finds while both run
EARLY_USERS = range(50_000, 50_040)  # a burst of commands before the kill
LATE_USERS = range(51_000, 51_020)  # and after it
KILL_AFTER = 40  # alerts received when the leader is killed
OLD = FeedItem("Hội nghị tổng kết năm ở Huế", "tong-ket", age_hours=30)
NEW = FeedItem("Lũ lớn ở Huế, hàng nghìn hộ dân được sơ tán", "lu-lon-hue",
               "Nước sông Hương dâng cao, Huế sơ tán hàng nghìn hộ dân.", age_hours=0.1)


class InstanceDied(RuntimeError):
    """An instance exited before both were running (its log is in the message)."""


@dataclass
class InstancesReport:
    """What two instances and a kill -9 did, as the fake Bot API, the feed server, the database
    and the processes' logs recorded it."""

    leader: str  # the instance that led first, and was killed
    standby: str  # the one that stood by, then took over
    standby_stood_by: bool  # its log said "standing by" once both ran
    standby_took_lead: bool  # and "this instance leads" after the kill
    standby_exit: int  # its exit code after SIGTERM
    sent_at_kill: int  # messages the fake had accepted when the leader was killed
    in_flight: set[int]  # chats whose message was claimed and not yet recorded sent, at the kill
    takeover_s: float  # from the kill to the first answer to a command sent after it
    phases: dict[str, float]  # seconds from the start: up, commands, kill, done
    elapsed_s: float  # from the start to the survivor's exit
    early: Counter[int]  # messages per user, for the commands sent before the kill
    late: Counter[int]  # and after it
    catch_up: Counter[int]  # messages per chat of the start-up catch-up
    alerts: Counter[int]  # messages per chat of the item found while both ran
    limits: dict[str, Any]  # FakeTelegram.limit_report()
    conflicts: list[Any]  # the fake's getUpdates 409 answers
    fetches: int  # GETs of the feed
    poll_interval: float = POLL_INTERVAL
    logs: dict[str, str] = field(default_factory=dict)  # each instance's log

    @property
    def getupdates_409(self) -> int:
        return len(self.conflicts)

    @property
    def intervals(self) -> float:
        """Poll intervals in the run: at most one fetch in each (and the first)."""
        return self.elapsed_s / self.poll_interval

    @property
    def max_per_second(self) -> int:
        return int(self.limits["max_global_per_second"])

    @property
    def max_per_chat_second(self) -> int:
        return int(self.limits["max_private_per_second"])

    @property
    def count_429(self) -> int:
        return int(self.limits["count_429"])

    @property
    def commands_answered_twice(self) -> int:
        return sum(1 for counts in (self.early, self.late) for n in counts.values() if n > 1)

    @property
    def alerts_twice(self) -> set[int]:
        return {chat for chat, n in self.alerts.items() if n > 1}

    @property
    def items_delivered_twice(self) -> int:
        return sum(1 for counts in (self.catch_up, self.alerts) for n in counts.values() if n > 1)

    def line(self) -> str:
        """The bench's figures, on one line."""
        return (f"instances: getupdates_409={self.getupdates_409} fetches={self.fetches} "
                f"intervals={self.intervals:.1f} max_per_second={self.max_per_second} "
                f"max_per_chat_second={self.max_per_chat_second} count_429={self.count_429} "
                f"takeover_s={self.takeover_s:.1f} "
                f"commands_answered_twice={self.commands_answered_twice} "
                f"items_delivered_twice={self.items_delivered_twice} "
                f"in_flight_at_kill={len(self.in_flight)}")

    def summary(self) -> str:
        """The run in words, with its phases."""
        phases = ", ".join(f"{name} {at:.1f} s" for name, at in self.phases.items())
        return (f"two instances, kill -9: leader {self.leader} killed after "
                f"{self.sent_at_kill} messages, takeover {self.takeover_s:.1f}s, "
                f"{len(self.alerts_twice)} duplicate(s) of "
                f"{len(self.in_flight)} in flight, max {self.max_per_second}/s, "
                f"{self.getupdates_409} getUpdates 409, feed fetched {self.fetches} times in "
                f"{self.elapsed_s:.0f}s; phases: {phases}")


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


async def run_two_instances(url: str, workdir: Path) -> InstancesReport:
    """Run the scenario on the migrated, empty PostgreSQL database `url`; the processes' logs
    go to the directory `workdir`, which exists. Raises InstanceDied if an instance exits
    before both run, and TimeoutError (tests/waiting.py) if something expected never
    happens."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with FeedServer() as feed, FakeTelegram(enforce_limits=True) as fake:
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
                if dead:
                    raise InstanceDied({n: _log(workdir, n) for n in dead})
                if len(running) == 2 and len(leading) == 1:
                    return leading[0], next(n for n in procs if n != leading[0])
                return None

            leader, standby = wait_for_sync(roles)
            phases = {"up": time.monotonic() - started}
            stood_by = "standing by" in _log(workdir, standby)

            # A burst of commands: each answered once, paced.
            for user in EARLY_USERS:
                fake.push_message(user, user, "/id")
            wait_for_sync(lambda: set(_received(fake, EARLY_USERS)) == set(EARLY_USERS))
            wait_for_sync(lambda: set(_received(fake, CATCH_UP_CHATS)) == set(CATCH_UP_CHATS))
            phases["commands"] = time.monotonic() - started

            # News for 150 chats; the leader dies while sending them.
            feed.add("/rss", rss([NEW, OLD]))
            wait_for_sync(lambda: sum(_received(fake, ALERT_CHATS).values()) >= KILL_AFTER)
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
            took_lead = "this instance leads" in _log(workdir, standby)
            phases["done"] = time.monotonic() - started
            procs[standby].send_signal(signal.SIGTERM)
            standby_exit = procs[standby].wait(timeout=60)
            elapsed = time.monotonic() - started
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return InstancesReport(
            leader=leader, standby=standby, standby_stood_by=stood_by,
            standby_took_lead=took_lead, standby_exit=standby_exit, sent_at_kill=sent_at_kill,
            in_flight=in_flight, takeover_s=takeover, phases=phases, elapsed_s=elapsed,
            early=_received(fake, EARLY_USERS), late=_received(fake, LATE_USERS),
            catch_up=_received(fake, CATCH_UP_CHATS), alerts=_received(fake, ALERT_CHATS),
            limits=fake.limit_report(),
            conflicts=[e for e in fake.errors if e[0] == "getUpdates" and e[2] == 409],
            fetches=feed.hits("/rss"), logs={n: _log(workdir, n) for n in procs})
