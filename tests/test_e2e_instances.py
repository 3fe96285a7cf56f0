"""Two real `bot.py run` processes on one PostgreSQL database and the fake Bot API, one killed
with SIGKILL while it sends: the other takes over, and together they answer every command once,
deliver every item once (twice only to a chat whose message was in flight at the kill), keep
Telegram's limits (≤ 30 messages in any second, 1 per second per chat, no 429), fetch the feed
once per interval, and never fight over getUpdates (no 409 storm).

The scenario is tests/e2e_instances_scenario.py (bench/instances.py prints the same run's
figures); here every figure of its report is checked. Every wait is on a condition (the fake's
records, the processes' logs); nothing sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import pg_database
from tests.e2e_instances_scenario import run_two_instances

# Two bot processes and a kill -9: the longest test after the soak (weight: tests/conftest.py).
pytestmark = pytest.mark.slow(weight=8)


async def test_two_instances_share_the_work_and_one_takes_over_after_kill_9(
        pg_template: str, tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    with pg_database(pg_template) as url:
        report = await run_two_instances(url, workdir)

    assert report.standby_stood_by, report.logs[report.standby]
    assert report.standby_took_lead, report.logs[report.standby]
    assert report.standby_exit == 0, report.logs[report.standby]
    for received in (report.early, report.late, report.catch_up):
        assert set(received.values()) == {1}  # answered once, delivered once
    twice = report.alerts_twice
    assert max(report.alerts.values()) <= 2 and twice <= report.in_flight, (
        twice, report.in_flight)
    limits = report.limits
    assert limits["max_global_per_second"] <= 30, limits
    assert limits["max_private_per_second"] <= 1, limits
    assert limits["count_429"] == 0, limits
    # the dead leader's abandoned long poll, at most
    assert len(report.conflicts) <= 2, report.conflicts
    assert report.takeover_s < 30
    # Each fetch was one instance's: at most one per interval (and the first one).
    assert report.fetches <= report.intervals + 2, (report.fetches, report.elapsed_s)
    print(f"\n{report.summary()}\n{report.line()}")
