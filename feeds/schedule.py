"""When each source is checked next: its own interval on its own phase, backoff when it fails,
and when a run of failures is long enough to pause it.

Every source gets a fixed phase within its interval, derived from its id, so checks are spread
evenly over the interval however the sources were added, and stay spread across restarts (the
next check is stored in sources.next_check_at). A little random jitter on top keeps sources with
nearby phases from firing together.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from config import Settings

MAX_BACKOFF_SECONDS = 24 * 3600
JITTER = 0.05  # share of the interval
_GOLDEN = 2654435761  # Knuth's multiplicative hash: consecutive ids land far apart


def interval_for(settings: Settings, source_interval: int | None) -> int:
    """The source's interval in seconds: its own or the default, never below the minimum."""
    return max(source_interval or settings.poll_interval_seconds,
               settings.poll_min_interval_seconds)


def phase_of(source_id: int, interval: int) -> float:
    return (source_id * _GOLDEN % 2**32) / 2**32 * interval


def next_check(source_id: int, now: datetime, interval: int,
               rng: random.Random | None = None) -> datetime:
    """The next slot on the source's phase at least half an interval away, plus jitter."""
    rng = rng or random
    now_s = now.timestamp()
    wait = (phase_of(source_id, interval) - now_s) % interval
    if wait < interval / 2:
        wait += interval
    return now + timedelta(seconds=wait + rng.uniform(0, JITTER * interval))


def next_check_after_failure(now: datetime, interval: int, failures: int,
                             rng: random.Random | None = None) -> datetime:
    """Exponential backoff from the interval: 2, 4, 8 ... intervals, capped at one day."""
    rng = rng or random
    delay = interval * 2 ** min(failures, 32) * rng.uniform(0.9, 1.1)
    return now + timedelta(seconds=min(delay, MAX_BACKOFF_SECONDS))


def should_pause(settings: Settings, failures: int, first_failure_at: datetime | None,
                 now: datetime) -> bool:
    """A run of failures long enough (SOURCE_PAUSE_AFTER_*) to stop trying until an admin acts."""
    if failures >= settings.source_pause_after_errors:
        return True
    return first_failure_at is not None and (
        now - first_failure_at >= timedelta(seconds=settings.source_pause_after_seconds))
