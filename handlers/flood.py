"""Per-user flood limit for commands, shared by every channel adapter.

A token bucket per user: `per_minute` commands a minute, with bursts up to the same number. The
first command over the limit gets one polite line (WARN); the next ones are dropped in silence
(DROP) until the bucket has refilled enough to allow a command again, so a flood never turns
into a flood of replies.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass


class Verdict(enum.Enum):
    ALLOW = "allow"
    WARN = "warn"  # refused: tell the user once
    DROP = "drop"  # refused: already told


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class FloodLimiter:
    def __init__(self, per_minute: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._checks = 0

    def check(self, user_key: str) -> Verdict:
        """Count one command from `user_key` and say whether to handle it."""
        now = self.clock()
        bucket = self._buckets.get(user_key)
        if bucket is None:
            bucket = self._buckets[user_key] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        self._checks += 1
        if self._checks % 10_000 == 0:
            self._forget_idle(now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return Verdict.ALLOW
        if bucket.warned:
            return Verdict.DROP
        bucket.warned = True
        return Verdict.WARN

    def _forget_idle(self, now: float) -> None:
        """Drop users whose bucket is full again: they are indistinguishable from new ones."""
        full_after = self.capacity / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
