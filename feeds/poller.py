"""Poll sources: read each one, store what is new, classify it, hand deliverable items to delivery,
and record on the source how it went.

- `poll_once(app)`: every active source, once (`bot.py poll --once`).
- `start_polling(app, scheduler)`: an APScheduler job that every few seconds polls the sources
  whose next_check_at has come (`bot.py run`). The schedule lives in the database, so a restart
  picks up where it left off; the job never overlaps itself and a source being polled is never
  polled again until it is done.

Failures: a source that fails backs off (feeds.schedule) and after a long enough run is paused,
with its reason kept and the admins told. When every source's latest poll has failed (more than
one source), the machine is offline, not the sources: no error is counted, and failures counted
since the last success anywhere are forgiven.

A newly added source's first successful read is its backlog: stored as already seen, never pushed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from classify import Classifier, get_classifier
from delivery import alerts, match
from feeds import schedule
from feeds.fetch import Fetcher
from feeds.listing import listing_spec
from feeds.read import ReadResult, read_source
from runtime import App
from storage.items import StoreResult, store_entries
from storage.labels import add_labels
from storage.models import Source
from storage.recent_titles import RecentTitles

log = logging.getLogger(__name__)

MAX_PARALLEL_SOURCES = 32  # bounds memory: each body may be up to HTTP_MAX_BYTES


@dataclass(frozen=True, slots=True)
class _Source:
    """What a poll needs from a source row, read once so no ORM object crosses an await."""

    id: int
    url: str
    name: str
    kind: str
    province: str | None
    listing_preset: str | None
    listing_config: dict[str, Any] | None
    etag: str | None
    last_modified: str | None
    primed: bool
    interval: int
    error_count: int
    first_error_at: datetime | None


@dataclass(slots=True)
class SourceOutcome:
    source_id: int
    name: str
    url: str
    status: str  # "new" | "unchanged" | "error"
    new: int = 0  # items stored
    republished: int = 0  # of which copies of an item from another source
    backlog: bool = False  # the source's first read: stored as already seen
    error: str | None = None
    paused: bool = False


@dataclass(slots=True)
class PollReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    outage: bool = False  # every source failed: errors were not counted

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "error")

    @property
    def new_items(self) -> int:
        return sum(o.new for o in self.outcomes)

    def summary(self) -> str:
        text = (f"polled {len(self.outcomes)} sources: {self.new_items} new items,"
                f" {self.failed} failed")
        return text + (" (every source failed: network outage, errors not counted)"
                       if self.outage else "")


def _snapshot(source: Source, app: App) -> _Source:
    return _Source(
        id=source.id, url=source.url, name=source.name or source.url, kind=source.kind,
        province=source.province, listing_preset=source.listing_preset,
        listing_config=source.listing_config, etag=source.etag,
        last_modified=source.last_modified, primed=source.primed,
        interval=schedule.interval_for(app.settings, source.interval_seconds),
        error_count=source.error_count, first_error_at=source.first_error_at,
    )


class Poller:
    """Holds what outlives one poll: the recent-titles index, the store lock, the set of
    sources being polled. One per process."""

    def __init__(self, app: App, *, classifier: Classifier | None = None) -> None:
        self.app = app
        self._classifier = classifier
        self._titles = RecentTitles()
        self._store_lock = asyncio.Lock()  # one writer: copies stored just before are seen
        self._running: set[int] = set()
        # Items were stored but matching them failed (the database went away in between):
        # they are matched at the next poll, as at start-up, so instant subscribers get them.
        self._unmatched = False

    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            self._classifier = get_classifier()
        return self._classifier

    # --- entry points ------------------------------------------------------------------
    async def poll_all(self) -> PollReport:
        """Every active source, now."""
        async with self.app.sessions() as session:
            rows = (await session.scalars(
                select(Source).where(Source.state == "active").order_by(Source.id))).all()
            sources = [_snapshot(row, self.app) for row in rows]
        return await self.poll(sources)

    async def poll_due(self) -> PollReport:
        """The active sources whose next check has come; never raises (it runs as a job)."""
        try:
            await self._catch_up()
            now = self.app.clock()
            async with self.app.sessions() as session:
                rows = (await session.scalars(
                    select(Source).where(
                        Source.state == "active",
                        (Source.next_check_at.is_(None)) | (Source.next_check_at <= now),
                    ).order_by(Source.next_check_at))).all()
                sources = [_snapshot(row, self.app) for row in rows]
            return await self.poll(sources)
        except Exception:
            log.exception("polling due sources failed")
            return PollReport()

    async def poll(self, sources: list[_Source]) -> PollReport:
        sources = [s for s in sources if s.id not in self._running]
        if not sources:
            return PollReport()
        self._running.update(s.id for s in sources)
        try:
            gate = asyncio.Semaphore(MAX_PARALLEL_SOURCES)
            async with Fetcher(self.app.settings) as fetcher:
                async def one(source: _Source) -> tuple[_Source, SourceOutcome, ReadResult | None]:
                    async with gate:
                        return await self._poll_source(fetcher, source)

                results = await asyncio.gather(*(one(s) for s in sources))
            report = PollReport(outcomes=[outcome for _, outcome, _ in results])
            await self._record_unstored(results, report)
        finally:
            self._running.difference_update(s.id for s in sources)
        quiet = not report.new_items and not report.failed
        log.log(logging.DEBUG if quiet else logging.INFO, "%s", report.summary())
        return report

    # --- one source --------------------------------------------------------------------
    async def _poll_source(self, fetcher: Fetcher, source: _Source
                           ) -> tuple[_Source, SourceOutcome, ReadResult | None]:
        outcome = SourceOutcome(source.id, source.name, source.url, "error")
        try:
            spec = (listing_spec(source.listing_preset, source.listing_config)
                    if source.kind == "listing" else None)
        except (KeyError, ValueError) as exc:
            outcome.error = f"the listing's selectors are not usable: {exc}"
            return source, outcome, None
        try:
            now = self.app.clock()
            read = await read_source(
                fetcher, source.url, spec=spec, fetched_at=now, local=self.app.settings.tz,
                etag=source.etag, last_modified=source.last_modified)
            if read.status == "error":
                outcome.error = read.error
                return source, outcome, read
            if read.status == "unchanged":
                outcome.status = "unchanged"
                return source, outcome, read
            stored = await self._store(source, read, now)
            outcome.status, outcome.new = "new", len(stored.new)
            outcome.republished, outcome.backlog = stored.republished, not source.primed
            await self._hand_over(source, stored)
            return source, outcome, None  # recorded with the items
        except Exception as exc:  # a bug or a database failure: recorded, the rest goes on
            log.exception("polling source %s (%s) failed", source.id, source.url)
            outcome.error = f"internal error while polling: {type(exc).__name__}: {exc}"
            return source, outcome, None

    async def _store(self, source: _Source, read: ReadResult, now: datetime) -> StoreResult:
        """Items, their labels and the source's success, in one transaction."""
        backlog = not source.primed
        async with self._store_lock:
            async with self.app.sessions() as session, session.begin():
                await self._titles.refresh(session, now)
                stored = await store_entries(session, source_id=source.id, entries=read.entries,
                                             fetched_at=now, backlog=backlog, titles=self._titles,
                                             classified_at=now)
                await add_labels(session, (
                    (item.id, self.classifier.classify(item.title, item.summary,
                                                       feed_province=source.province))
                    for item in stored.new))
                values = self._success_values(source, now)
                values.update(etag=read.fetch.etag, last_modified=read.fetch.last_modified,
                              primed=True)
                await self._moved(session, source, read, values)
                await session.execute(update(Source).where(Source.id == source.id).values(values))
        return stored

    async def _hand_over(self, source: _Source, stored: StoreResult) -> None:
        if stored.new and not source.primed:
            log.info("source %s (%s): stored its backlog of %d items as already seen",
                     source.id, source.name, len(stored.new))
        for item in stored.new:
            if item.duplicate_of is not None:
                log.info("republished copy #%d of #%d from %s: %s", item.id, item.duplicate_of,
                         source.name, item.title)
            elif not item.backlog:
                log.info("new item #%d from %s: %s", item.id, source.name, item.title)
        ids = stored.deliverable_ids
        if ids:
            try:
                await match.on_new_items(self.app, ids)
            except Exception:
                self._unmatched = True
                log.exception("matching %d new items from source %s failed; the next poll"
                              " tries again", len(ids), source.id)

    async def _catch_up(self) -> None:
        """Match the items whose matching failed in an earlier poll; until it works, every
        poll tries again (and polls its sources either way)."""
        if not self._unmatched:
            return
        try:
            caught_up = await match.match_unmatched(self.app)
        except Exception:
            log.exception("matching the items left unmatched failed; the next poll tries again")
            return
        self._unmatched = False
        log.info("matched %d items whose matching had failed", caught_up)

    # --- recording ---------------------------------------------------------------------
    def _success_values(self, source: _Source, now: datetime) -> dict[str, Any]:
        return {
            "last_fetch_at": now, "last_success_at": now, "error_count": 0,
            "first_error_at": None, "last_error": None,
            "next_check_at": schedule.next_check(source.id, now, source.interval),
        }

    async def _moved(self, session: Any, source: _Source, read: ReadResult,
                     values: dict[str, Any]) -> None:
        """Follow a permanent redirect: the source's URL becomes the new one, unless another
        source already has it."""
        new_url = read.fetch.permanent_url
        if not new_url or new_url == source.url:
            return
        taken = await session.scalar(select(Source.id).where(Source.url == new_url))
        if taken is not None:
            log.warning("source %s moved to %s, which is source %s already; URL kept",
                        source.id, new_url, taken)
            return
        log.info("source %s moved permanently: %s → %s", source.id, source.url, new_url)
        values["url"] = new_url

    async def _record_unstored(self, results: list[tuple[_Source, SourceOutcome,
                                                         ReadResult | None]],
                               report: PollReport) -> None:
        """Record the polls that stored nothing: unchanged sources and failures, in one
        transaction, applying the outage rule and pausing sources whose failures ran long."""
        now = self.app.clock()
        pending = [(s, o, r) for s, o, r in results if o.status != "new"]
        if not pending:
            return
        failed = [(s, o) for s, o, _ in pending if o.status == "error"]
        # A refusal by the source policy is the source's own doing, never a sign of an outage.
        refused = any(r is not None and r.fetch.refused for _, _, r in pending)
        alerts_to_send: list[str] = []
        async with self.app.sessions() as session, session.begin():
            if failed and len(failed) == len(results) and not refused:
                report.outage = await self._is_outage(session, [s.id for s, _ in failed])
                if report.outage:
                    await self._forgive_outage(session)
            unchanged: list[dict[str, Any]] = []  # one executemany: most polls end here
            for source, outcome, read in pending:
                if outcome.status == "unchanged":
                    values = self._success_values(source, now)
                    if read is None or read.fetch.permanent_url in (None, source.url):
                        unchanged.append({"id": source.id, **values})
                        continue
                    await self._moved(session, source, read, values)
                elif report.outage:
                    values = {"last_fetch_at": now, "next_check_at": schedule.next_check(
                        source.id, now, source.interval),
                        "last_error": f"{outcome.error} (not counted: every source failed)"}
                else:
                    values = self._failure_values(source, outcome, now)
                    if values.get("state") == "paused":
                        outcome.paused = True
                        alerts_to_send.append(
                            f"Source {source.id} ({source.name}, {source.url}) is paused:"
                            f" {values['paused_reason']}")
                await session.execute(update(Source).where(Source.id == source.id)
                                      .values(values))
            if unchanged:
                await session.execute(update(Source), unchanged)
        for source, outcome in failed:
            log.warning("source %s (%s) failed: %s", source.id, source.url, outcome.error)
        for text in alerts_to_send:
            log.warning("%s", text)
            try:
                await alerts.alert_admins(self.app, text)
            except Exception:
                log.exception("could not alert the admins")

    def _failure_values(self, source: _Source, outcome: SourceOutcome,
                        now: datetime) -> dict[str, Any]:
        failures = source.error_count + 1
        first = source.first_error_at or now
        values: dict[str, Any] = {
            "last_fetch_at": now, "error_count": failures, "first_error_at": first,
            "last_error": outcome.error,
            "next_check_at": schedule.next_check_after_failure(now, source.interval, failures),
        }
        if schedule.should_pause(self.app.settings, failures, first, now):
            since = first.astimezone(self.app.settings.tz).strftime("%Y-%m-%d %H:%M")
            values.update(state="paused", paused_reason=(
                f"{failures} failures in a row since {since}; last: {outcome.error}"))
        return values

    async def _is_outage(self, session: Any, failed_ids: list[int]) -> bool:
        """True when no active source's latest poll succeeded and more than one was polled."""
        others = (await session.execute(
            select(Source.last_fetch_at, Source.last_success_at).where(
                Source.state == "active", Source.id.not_in(failed_ids),
                Source.last_fetch_at.is_not(None)))).all()
        if any(ok is not None and ok >= fetched for fetched, ok in others):
            return False
        if len(failed_ids) + len(others) < 2:
            return False
        log.warning("every source failed its latest poll: network outage suspected,"
                    " errors are not counted")
        return True

    async def _forgive_outage(self, session: Any) -> None:
        """Failures counted since the last success anywhere were the outage's, not the sources'."""
        last_success = await session.scalar(select(func.max(Source.last_success_at)))
        forgiven = update(Source).where(Source.state == "active", Source.error_count > 0)
        if last_success is not None:
            forgiven = forgiven.where(Source.first_error_at >= last_success)
        await session.execute(forgiven.values(error_count=0, first_error_at=None))


async def poll_once(app: App) -> PollReport:
    """Poll every active source once (`bot.py poll --once`)."""
    return await Poller(app).poll_all()


def start_polling(app: App, scheduler: Any, *, tick_seconds: float | None = None) -> Poller:
    """Add the polling job to an APScheduler AsyncIOScheduler; returns the Poller it runs."""
    poller = Poller(app)
    tick = tick_seconds or max(1, min(15, app.settings.poll_min_interval_seconds // 8))
    scheduler.add_job(poller.poll_due, "interval", seconds=tick, id="loa.poll_due",
                      name="poll due sources", max_instances=1, coalesce=True,
                      next_run_time=app.clock(), replace_existing=True)
    return poller
