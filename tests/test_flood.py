"""The per-user flood limit: a token bucket, one warning, then silence."""

from __future__ import annotations

from handlers.flood import FloodLimiter, Verdict
from tests.fakes.clock import FakeClock


def test_burst_then_one_warning_then_silence() -> None:
    clock = FakeClock(1000.0)
    flood = FloodLimiter(per_minute=3, clock=clock)
    assert [flood.check("a") for _ in range(6)] == [Verdict.ALLOW] * 3 + [
        Verdict.WARN,
        Verdict.DROP,
        Verdict.DROP,
    ]
    assert flood.check("b") is Verdict.ALLOW  # per user


def test_refills_at_the_configured_rate() -> None:
    clock = FakeClock(1000.0)
    flood = FloodLimiter(per_minute=3, clock=clock)
    for _ in range(4):
        flood.check("a")
    clock.now += 19.0  # 3 a minute: one token every 20 s
    assert flood.check("a") is Verdict.DROP
    clock.now += 1.0
    assert flood.check("a") is Verdict.ALLOW
    assert flood.check("a") is Verdict.WARN  # a new flood gets a new warning
    clock.now += 3600
    assert [flood.check("a") for _ in range(3)] == [Verdict.ALLOW] * 3  # never more than the burst
    assert flood.check("a") is Verdict.WARN


def test_idle_users_are_forgotten() -> None:
    clock = FakeClock(1000.0)
    flood = FloodLimiter(per_minute=20, clock=clock)
    for user in range(9_999):
        flood.check(str(user))
    clock.now += 61
    flood.check("last")
    assert len(flood._buckets) == 1
