"""The one fake clock for tests: whatever reads `clock()` (the app's clock, the pacer's, the flood
limiter's) sees the time the test set, and nothing moves unless the test moves it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T", datetime, float)


class FakeClock(Generic[T]):
    """`now` is a datetime (for `app.clock`) or monotonic-style seconds (for pacing, flood)."""

    def __init__(self, now: T) -> None:
        self.now: T = now

    def __call__(self) -> T:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> T:
        """Move forward by `seconds` and/or timedelta keywords (minutes=, hours=, days=)."""
        step = timedelta(seconds=seconds, **delta)
        if isinstance(self.now, datetime):
            self.now = self.now + step
        else:
            self.now = self.now + step.total_seconds()
        return self.now
