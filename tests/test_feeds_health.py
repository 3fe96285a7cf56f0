"""A source's health as pure functions: schedule, success, failure, backoff, pause, the outage
rule and forgiveness, redirects. No database: each case is the source's state, an outcome, and
the values it must get."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from feeds import health
from feeds.health import Health
from tests.conftest import make_settings

START = datetime(2026, 9, 15, 3, 0, tzinfo=UTC)
SETTINGS = make_settings("sqlite://", source_pause_after_errors=3,
                         source_pause_after_seconds=3 * 24 * 3600)
SOURCE = Health(source_id=7, url="https://bao.vn/rss", interval=600)


class Fixed(random.Random):
    """Jitter pinned to its middle, so backoff delays are exact."""

    def uniform(self, a: float, b: float) -> float:
        return (a + b) / 2


def test_schedule_spreads_sources_and_respects_the_minimum() -> None:
    settings = make_settings("sqlite://")
    assert health.interval_for(settings, None) == 600
    assert health.interval_for(settings, 30) == 120  # never below POLL_MIN_INTERVAL_SECONDS
    assert health.interval_for(settings, 1800) == 1800
    rng = random.Random(1)
    waits = [(health.next_check(source_id, START, 600, rng) - START).total_seconds()
             for source_id in range(1, 201)]
    assert all(300 <= w <= 900 + 0.05 * 600 for w in waits)
    # Spread: every tenth of the interval gets some sources.
    buckets = {int((START.timestamp() + w) % 600 // 60) for w in waits}
    assert buckets == set(range(10))
    # Stable across restarts: a source keeps its slot.
    again = health.next_check(7, START, 600, random.Random(2))
    first = health.next_check(7, START, 600, random.Random(3))
    assert abs((again - first).total_seconds()) <= 0.05 * 600
    assert health.next_check_after_failure(START, 600, 20) - START == timedelta(days=1)


@pytest.mark.parametrize(("errors", "first_error_at"), [
    (0, None),
    (2, START - timedelta(hours=1)),
])
def test_success_ends_the_run_of_failures(errors: int, first_error_at: datetime | None) -> None:
    state = Health(7, "https://bao.vn/rss", 600, errors, first_error_at)
    values = health.succeeded(state, START, Fixed())
    assert values == {"last_fetch_at": START, "last_success_at": START, "error_count": 0,
                      "first_error_at": None, "last_error": None,
                      "next_check_at": health.next_check(7, START, 600, Fixed())}
    assert START + timedelta(seconds=300) <= values["next_check_at"] <= START + timedelta(
        seconds=900 + 30)


@pytest.mark.parametrize(("errors", "first_error_at", "count", "first", "backoff", "paused"), [
    # the first failure starts the run and waits two intervals
    (0, None, 1, START, 2 * 600, False),
    # the second keeps the run's start and waits four
    (1, START - timedelta(hours=1), 2, START - timedelta(hours=1), 4 * 600, False),
    # the third reaches SOURCE_PAUSE_AFTER_ERRORS
    (2, START - timedelta(hours=2), 3, START - timedelta(hours=2), 8 * 600, True),
    # a long run pauses by time, whatever the count; backoff is capped at one day
    (1, START - timedelta(days=3), 2, START - timedelta(days=3), 4 * 600, True),
    (20, START - timedelta(hours=5), 21, START - timedelta(hours=5), 24 * 3600, True),
])
def test_failure_backs_off_then_pauses(errors: int, first_error_at: datetime | None, count: int,
                                       first: datetime, backoff: int, paused: bool) -> None:
    state = Health(7, "https://bao.vn/rss", 600, errors, first_error_at)
    values = health.failed(SETTINGS, state, "HTTP 503", START, Fixed())
    assert values["error_count"] == count and values["first_error_at"] == first
    assert values["last_error"] == "HTTP 503" and values["last_fetch_at"] == START
    assert values["next_check_at"] - START == timedelta(seconds=backoff)
    assert (values.get("state") == health.PAUSED) is paused
    if paused:
        since = first.astimezone(SETTINGS.tz).strftime("%Y-%m-%d %H:%M")
        assert values["paused_reason"] == (
            f"{count} failures in a row since {since}; last: HTTP 503")
    else:
        assert "paused_reason" not in values


def test_failure_in_an_outage_is_not_counted() -> None:
    state = Health(7, "https://bao.vn/rss", 600, 2, START - timedelta(hours=1))
    values = health.failed_in_outage(state, "connection refused", START, Fixed())
    assert values == {"last_fetch_at": START,
                      "next_check_at": health.next_check(7, START, 600, Fixed()),
                      "last_error": "connection refused (not counted: every source failed)"}


EARLIER, LATER = START - timedelta(hours=2), START - timedelta(hours=1)
Polls = tuple[datetime | None, datetime | None]  # another source's last fetch and last success


@pytest.mark.parametrize(("failed", "others", "outage"), [
    (2, [], True),  # every source polled failed
    (1, [], False),  # one source alone: its own failure
    (1, [(EARLIER, None)], True),  # the other one failed its latest poll too
    (1, [(LATER, EARLIER)], True),  # its last success is older than its latest poll
    (1, [(LATER, LATER)], False),  # its latest poll succeeded
    (3, [(LATER, None), (EARLIER, EARLIER)], False),
])
def test_outage_is_every_source_failing(failed: int, others: list[Polls], outage: bool) -> None:
    assert health.is_outage(failed, others) is outage


@pytest.mark.parametrize(("errors", "first_error_at", "last_success", "forgiven"), [
    (0, None, EARLIER, False),  # nothing to forgive
    (3, LATER, EARLIER, True),  # the run began after the last success anywhere
    (3, EARLIER, EARLIER, True),
    (3, EARLIER, LATER, False),  # the source was failing while others succeeded
    (3, EARLIER, None, True),  # nothing ever succeeded
    (3, None, LATER, False),
])
def test_outage_forgives_failures_since_the_last_success_anywhere(
        errors: int, first_error_at: datetime | None, last_success: datetime | None,
        forgiven: bool) -> None:
    values = health.forgiven(errors, first_error_at, last_success)
    assert values == ({"error_count": 0, "first_error_at": None} if forgiven else {})


@pytest.mark.parametrize(("permanent_url", "moved"), [
    (None, None),
    ("https://bao.vn/rss", None),  # redirected to itself
    ("https://bao.vn/rss/moi", "https://bao.vn/rss/moi"),
])
def test_a_permanent_redirect_moves_the_source(permanent_url: str | None,
                                              moved: str | None) -> None:
    assert health.moved_to(SOURCE, permanent_url) == moved
