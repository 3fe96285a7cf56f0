"""A source's health: when it is checked next, and what a success, a failure, an outage or a
permanent redirect does to its record.

Pure functions: given the source's current state (`Health`) and the outcome of a poll, they
return the new column values (`Values`); the ingest handler writes them, so the rules can be
tested without a database.

- Schedule: every source gets a fixed phase within its interval, derived from its id, so checks
  are spread evenly over the interval however the sources were added, and stay spread across
  restarts (the next check is stored in sources.next_check_at). A little random jitter on top
  keeps sources with nearby phases from firing together.
- Failures back off exponentially, and a run of failures long enough (SOURCE_PAUSE_AFTER_*)
  pauses the source, with its reason kept, until an admin acts.
- Outage: when every source's latest poll has failed (more than one source), the machine is
  offline, not the sources: no error is counted, and failures counted since the last success
  anywhere are forgiven.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from config import Settings

MAX_BACKOFF_SECONDS = 24 * 3600
JITTER = 0.05  # share of the interval
_GOLDEN = 2654435761  # Knuth's multiplicative hash: consecutive ids land far apart
PAUSED = "paused"  # sources.state of a source paused for its failures
_RANDOM = random.Random()


@dataclass(frozen=True, slots=True)
class Health:
    """What a source's health depends on, as stored."""

    source_id: int
    url: str
    interval: int  # seconds (interval_for)
    error_count: int = 0  # failures in a row
    first_error_at: datetime | None = None  # when the run of failures began


class Values(TypedDict, total=False):
    """The sources columns that a poll's outcome sets; the ones left out stay as they are."""

    url: str
    last_fetch_at: datetime
    last_success_at: datetime
    next_check_at: datetime
    error_count: int
    first_error_at: datetime | None
    last_error: str | None
    state: str
    paused_reason: str


def interval_for(settings: Settings, source_interval: int | None, *, local: bool = False) -> int:
    """The source's interval in seconds: its own or the default, never below the minimum, which
    spares other people's servers; a `local` source (one this process serves itself, the demo)
    keeps its own."""
    interval = source_interval or settings.poll_interval_seconds
    return interval if local else max(interval, settings.poll_min_interval_seconds)


def phase_of(source_id: int, interval: int) -> float:
    return (source_id * _GOLDEN % 2**32) / 2**32 * interval


def next_check(source_id: int, now: datetime, interval: int,
               rng: random.Random | None = None) -> datetime:
    """The next slot on the source's phase at least half an interval away, plus jitter."""
    rng = rng or _RANDOM
    now_s = now.timestamp()
    wait = (phase_of(source_id, interval) - now_s) % interval
    if wait < interval / 2:
        wait += interval
    return now + timedelta(seconds=wait + rng.uniform(0, JITTER * interval))


def next_check_after_failure(now: datetime, interval: int, failures: int,
                             rng: random.Random | None = None) -> datetime:
    """Exponential backoff from the interval: 2, 4, 8 ... intervals, capped at one day."""
    rng = rng or _RANDOM
    delay = interval * 2 ** min(failures, 32) * rng.uniform(0.9, 1.1)
    return now + timedelta(seconds=min(delay, MAX_BACKOFF_SECONDS))


def should_pause(settings: Settings, failures: int, first_failure_at: datetime | None,
                 now: datetime) -> bool:
    """A run of failures long enough (SOURCE_PAUSE_AFTER_*) to stop trying until an admin acts."""
    if failures >= settings.source_pause_after_errors:
        return True
    return first_failure_at is not None and (
        now - first_failure_at >= timedelta(seconds=settings.source_pause_after_seconds))


def succeeded(health: Health, now: datetime, rng: random.Random | None = None) -> Values:
    """The source was read (new items or unchanged): its run of failures is over."""
    return {"last_fetch_at": now, "last_success_at": now, "error_count": 0,
            "first_error_at": None, "last_error": None,
            "next_check_at": next_check(health.source_id, now, health.interval, rng)}


def failed(settings: Settings, health: Health, error: str, now: datetime,
           rng: random.Random | None = None) -> Values:
    """One more failure: back off, and pause the source when the run is long enough."""
    failures = health.error_count + 1
    first = health.first_error_at or now
    values: Values = {
        "last_fetch_at": now, "error_count": failures, "first_error_at": first,
        "last_error": error,
        "next_check_at": next_check_after_failure(now, health.interval, failures, rng),
    }
    if should_pause(settings, failures, first, now):
        since = first.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")
        values["state"] = PAUSED
        values["paused_reason"] = f"{failures} failures in a row since {since}; last: {error}"
    return values


def failed_in_outage(health: Health, error: str, now: datetime,
                     rng: random.Random | None = None) -> Values:
    """A failure while every source failed: kept as the last error, not counted."""
    return {"last_fetch_at": now,
            "next_check_at": next_check(health.source_id, now, health.interval, rng),
            "last_error": f"{error} (not counted: every source failed)"}


def is_outage(failed: int, others: Iterable[tuple[datetime | None, datetime | None]]) -> bool:
    """Every source failed its latest poll: `failed` sources failed now, and `others` are the
    (last_fetch_at, last_success_at) of the other active sources that were ever fetched. One
    source alone failing is that source's failure, never an outage."""
    others = list(others)
    if any(ok is not None and fetched is not None and ok >= fetched for fetched, ok in others):
        return False
    return failed + len(others) >= 2


def forgiven(error_count: int, first_error_at: datetime | None,
             last_success_anywhere: datetime | None) -> Values:
    """After an outage: failures counted since the last success anywhere were the outage's, not
    the source's, and are forgiven (no values when there is nothing to forgive)."""
    if error_count <= 0:
        return {}
    if last_success_anywhere is not None and (
            first_error_at is None or first_error_at < last_success_anywhere):
        return {}
    return {"error_count": 0, "first_error_at": None}


def moved_to(health: Health, permanent_url: str | None) -> str | None:
    """The source's new URL after a permanent redirect, or None when it did not move. (The
    handler keeps the old URL when another source has the new one already.)"""
    return permanent_url if permanent_url and permanent_url != health.url else None
