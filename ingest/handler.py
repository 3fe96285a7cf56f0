"""The pipeline for one source (Miniflux's reader/handler): read it, store the entries that are
new, classify and label them, hand the deliverable ones to delivery, and record on the source
how it went, telling the admins when it is paused.

The rules for the source's record (success, failure, backoff, pause, outage, redirect) are
feeds.health's pure functions; this module reads the state they need and writes what they
return. The worker (ingest.worker) decides which sources to poll and when.

A newly added source's first successful read is its backlog: stored as already seen, never pushed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from classify import Classification, get_classifier
from config import Settings
from delivery import alerts, match
from feeds import health
from feeds.fetch import Fetcher
from feeds.listing import listing_spec
from feeds.read import ReadResult, read_source
from ingest.labels import to_labels
from model.enums import SourceStatus
from runtime import App
from storage.dialect import lock_for_write
from storage.items import EntryToStore, StoreResult, store_entries
from storage.labels import Labels, add_labels
from storage.leases import claim_due_sources, release_sources
from storage.models import Source
from storage.recent_titles import RecentTitles

log = logging.getLogger(__name__)

MAX_SOURCE_NAME_CHARS = 256  # storage.models.Source.name


class Classifies(Protocol):
    """What the pipeline needs of a classifier (a test or a benchmark passes its own)."""

    def classify(self, title: str, summary: str = "",
                 feed_province: str | None = None) -> Classification: ...


@dataclass(frozen=True, slots=True)
class SourceState:
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
    named: bool  # False: the source takes its feed's title as its name at its first read
    health: health.Health


def snapshot(source: Source, settings: Settings, *, local: bool = False) -> SourceState:
    """`local`: the source is served by this process (App.local_sites)."""
    return SourceState(
        id=source.id, url=source.url, name=source.name or source.url, kind=source.kind,
        province=source.province, listing_preset=source.listing_preset,
        listing_config=source.listing_config, etag=source.etag,
        last_modified=source.last_modified, primed=source.primed, named=bool(source.name),
        health=health.Health(
            source_id=source.id, url=source.url,
            interval=health.interval_for(settings, source.interval_seconds, local=local),
            error_count=source.error_count, first_error_at=source.first_error_at),
    )


@dataclass(slots=True)
class SourceOutcome:
    source_id: int
    name: str
    url: str
    status: SourceStatus
    new: int = 0  # items stored
    republished: int = 0  # of which copies of an item from another source
    backlog: bool = False  # the source's first read: stored as already seen
    error: str | None = None
    paused: bool = False


@dataclass(slots=True)
class Polled:
    """One source's poll, until it is recorded: the read is kept when the source stored
    nothing, for its redirect and for whether the source policy refused it."""

    source: SourceState
    outcome: SourceOutcome
    read: ReadResult | None = None


@dataclass(slots=True)
class PollReport:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    outage: bool = False  # every source failed: errors were not counted

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.status == SourceStatus.ERROR)

    @property
    def new_items(self) -> int:
        return sum(o.new for o in self.outcomes)

    def summary(self) -> str:
        text = (f"polled {len(self.outcomes)} sources: {self.new_items} new items,"
                f" {self.failed} failed")
        return text + (" (every source failed: network outage, errors not counted)"
                       if self.outage else "")


def source_name(title: str, url: str) -> str:
    """A source added without a name is called by its feed's own title, or else by its host."""
    name = " ".join(title.split())[:MAX_SOURCE_NAME_CHARS]
    return name or urlsplit(url).hostname or url


def _to_store(read: ReadResult) -> list[EntryToStore]:
    return [EntryToStore(guid=e.guid, url=e.url, title=e.title, summary=e.summary,
                         published_at=e.published_at) for e in read.entries]


class Handler:
    """Holds what outlives one poll: the recent-titles index, the store lock, the classifier.
    One per process."""

    def __init__(self, app: App, *, classifier: Classifies | None = None) -> None:
        self.app = app
        self._classifier = classifier
        self._titles = RecentTitles()
        self._store_lock = asyncio.Lock()  # one writer: copies stored just before are seen
        # Items were stored but matching them failed (the database went away in between):
        # they are matched at the next poll, as at start-up, so instant subscribers get them.
        self._unmatched = False

    @property
    def classifier(self) -> Classifies:
        if self._classifier is None:
            self._classifier = get_classifier()
        return self._classifier

    async def sources(self) -> list[SourceState]:
        """Every active source."""
        query = select(Source).where(Source.state == "active").order_by(Source.id)
        async with self.app.sessions() as session:
            return [self._snapshot(row) for row in (await session.scalars(query)).all()]

    async def claim_due(self, owner: str) -> list[SourceState]:
        """The active sources whose next check has come, claimed for `owner` so that no other
        instance polls them meanwhile (storage.leases); `release` ends the claims."""
        now = self.app.clock()
        until = now + timedelta(seconds=self.app.settings.source_claim_seconds)
        async with self.app.sessions() as session, session.begin():
            await lock_for_write(session)
            rows = await claim_due_sources(session, owner, now, until)
            return [self._snapshot(row) for row in rows]

    def _snapshot(self, row: Source) -> SourceState:
        """The source as this process polls it: one it serves itself keeps its own interval."""
        return snapshot(row, self.app.settings,
                        local=urlsplit(row.url).hostname in self.app.local_sites)

    async def release(self, ids: list[int], owner: str) -> None:
        async with self.app.sessions() as session, session.begin():
            await lock_for_write(session)
            await release_sources(session, ids, owner)

    def fetcher(self) -> Fetcher:
        """One per poll of many sources: they share its connections and per-host limits."""
        return Fetcher(self.app.settings, local_sites=self.app.local_sites)

    # --- one source --------------------------------------------------------------------
    async def refresh(self, fetcher: Fetcher, source: SourceState) -> Polled:
        """Read the source; when it has entries, store the new ones with their labels and the
        source's success, and hand them over. Never raises: a failure is in the outcome."""
        started = time.monotonic()
        polled = await self._refresh(fetcher, source)
        status = polled.outcome.status.value
        self.app.metrics.polls.labels(status).inc()
        self.app.metrics.poll_seconds.labels(status).observe(time.monotonic() - started)
        return polled

    async def _refresh(self, fetcher: Fetcher, source: SourceState) -> Polled:
        outcome = SourceOutcome(source.id, source.name, source.url, SourceStatus.ERROR)
        try:
            spec = (listing_spec(source.listing_preset, source.listing_config)
                    if source.kind == "listing" else None)
        except (KeyError, ValueError) as exc:
            outcome.error = f"the listing's selectors are not usable: {exc}"
            return Polled(source, outcome)
        try:
            now = self.app.clock()
            read = await read_source(
                fetcher, source.url, spec=spec, fetched_at=now, local=self.app.settings.tz,
                etag=source.etag, last_modified=source.last_modified)
            if read.status == "error":
                outcome.error = read.error
                return Polled(source, outcome, read)
            if read.status == "unchanged":
                outcome.status = SourceStatus.UNCHANGED
                return Polled(source, outcome, read)
            self.app.metrics.items_fetched.inc(len(read.entries))
            stored = await self._store(source, read, now)
            outcome.status, outcome.new = SourceStatus.NEW, len(stored.new)
            outcome.republished, outcome.backlog = stored.republished, not source.primed
            await self._hand_over(source, stored)
            return Polled(source, outcome)  # recorded with the items
        except Exception as exc:  # a bug or a database failure: recorded, the rest goes on
            log.exception("polling source %s (%s) failed", source.id, source.url,
                          extra={"source_id": source.id})
            outcome.error = f"internal error while polling: {type(exc).__name__}: {exc}"
            return Polled(source, outcome)

    async def _store(self, source: SourceState, read: ReadResult, now: datetime) -> StoreResult:
        """Items, their labels and the source's success, in one transaction."""
        backlog = not source.primed
        # The lock first: one writer, so copies stored just before are seen.
        async with self._store_lock, self.app.sessions() as session, session.begin():
            await self._titles.refresh(session, now)
            stored = await store_entries(session, source_id=source.id, entries=_to_store(read),
                                         fetched_at=now, backlog=backlog, titles=self._titles,
                                         classified_at=now)
            await add_labels(session, (
                (item.id, self._labels(item.title, item.summary, source.province))
                for item in stored.new))
            values: dict[str, Any] = {**health.succeeded(source.health, now),
                                      "etag": read.fetch.etag, "primed": True,
                                      "last_modified": read.fetch.last_modified}
            if not source.named:
                values["name"] = source_name(read.title, source.url)
            await self._moved(session, source, read, values)
            await session.execute(update(Source).where(Source.id == source.id).values(values))
        for item in stored.new:
            kind = ("republished" if item.duplicate_of is not None
                    else "backlog" if item.backlog else "new")
            self.app.metrics.items_stored.labels(kind).inc()
        return stored

    def _labels(self, title: str, summary: str, province: str | None) -> Labels:
        labels = to_labels(self.classifier.classify(title, summary, feed_province=province))
        self.app.metrics.classified((p.value for p in labels.provinces),
                                    (t.value for t in labels.topics))
        return labels

    async def _hand_over(self, source: SourceState, stored: StoreResult) -> None:
        if stored.new and not source.primed:
            log.info("source %s (%s): stored its backlog of %d items as already seen",
                     source.id, source.name, len(stored.new), extra={"source_id": source.id})
        for item in stored.new:
            if item.duplicate_of is not None:
                log.info("republished copy #%d of #%d from %s: %s", item.id, item.duplicate_of,
                         source.name, item.title,
                         extra={"source_id": source.id, "item_id": item.id})
            elif not item.backlog:
                log.info("new item #%d from %s: %s", item.id, source.name, item.title,
                         extra={"source_id": source.id, "item_id": item.id})
        ids = stored.deliverable_ids
        if ids:
            try:
                await match.on_new_items(self.app, ids)
            except Exception:
                self._unmatched = True
                log.exception("matching %d new items from source %s failed; the next poll"
                              " tries again", len(ids), source.id)

    async def catch_up(self) -> None:
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
    async def _moved(self, session: AsyncSession, source: SourceState, read: ReadResult,
                     values: dict[str, Any]) -> None:
        """Follow a permanent redirect: the source's URL becomes the new one, unless another
        source already has it."""
        new_url = health.moved_to(source.health, read.fetch.permanent_url)
        if new_url is None:
            return
        taken = await session.scalar(select(Source.id).where(Source.url == new_url))
        if taken is not None:
            log.warning("source %s moved to %s, which is source %s already; URL kept",
                        source.id, new_url, taken)
            return
        log.info("source %s moved permanently: %s → %s", source.id, source.url, new_url)
        values["url"] = new_url

    async def record(self, polled: list[Polled]) -> PollReport:
        """The report of a poll of these sources, after recording those that stored nothing
        (unchanged sources and failures) in one transaction, applying the outage rule, and
        alerting the admins of sources whose failures ran long enough to pause them."""
        report = PollReport(outcomes=[p.outcome for p in polled])
        now = self.app.clock()
        pending = [p for p in polled if p.outcome.status != SourceStatus.NEW]
        if not pending:
            return report
        failed = [p for p in pending if p.outcome.status == SourceStatus.ERROR]
        # A refusal by the source policy is the source's own doing, never a sign of an outage.
        refused = any(p.read is not None and p.read.fetch.refused for p in pending)
        paused: list[tuple[SourceState, str]] = []  # (source, why), for the admins' alerts
        async with self.app.sessions() as session, session.begin():
            if failed and len(failed) == len(polled) and not refused:
                report.outage = await self._is_outage(session, [p.source.id for p in failed])
                if report.outage:
                    await self._forgive_outage(session)
            unchanged: list[dict[str, Any]] = []  # one executemany: most polls end here
            for source, outcome, read in ((p.source, p.outcome, p.read) for p in pending):
                values: dict[str, Any]
                if outcome.status == SourceStatus.UNCHANGED:
                    values = {**health.succeeded(source.health, now)}
                    if read is None or health.moved_to(source.health,
                                                       read.fetch.permanent_url) is None:
                        unchanged.append({"id": source.id, **values})
                        continue
                    await self._moved(session, source, read, values)
                elif report.outage:
                    values = {**health.failed_in_outage(source.health, outcome.error or "", now)}
                else:
                    values = {**health.failed(self.app.settings, source.health,
                                              outcome.error or "", now)}
                    if values.get("state") == health.PAUSED:
                        outcome.paused = True
                        paused.append((source, values["paused_reason"]))
                await session.execute(update(Source).where(Source.id == source.id)
                                      .values(values))
            if unchanged:
                await session.execute(update(Source), unchanged)
        for p in failed:
            log.warning("source %s (%s) failed: %s", p.source.id, p.source.url, p.outcome.error,
                        extra={"source_id": p.source.id})
        for source, why in paused:
            log.warning("source %s (%s, %s) is paused: %s", source.id, source.name, source.url,
                        why, extra={"source_id": source.id})
            try:
                await alerts.alert_admins(self.app, alerts.Alert.SOURCE_PAUSED, id=source.id,
                                          name=source.name, url=source.url, detail=why)
            except Exception:
                log.exception("could not alert the admins")
        return report

    async def _is_outage(self, session: AsyncSession, failed_ids: list[int]) -> bool:
        """True when no active source's latest poll succeeded and more than one was polled."""
        others = (await session.execute(
            select(Source.last_fetch_at, Source.last_success_at).where(
                Source.state == "active", Source.id.not_in(failed_ids),
                Source.last_fetch_at.is_not(None)))).all()
        if not health.is_outage(len(failed_ids), others):
            return False
        log.warning("every source failed its latest poll: network outage suspected,"
                    " errors are not counted")
        return True

    async def _forgive_outage(self, session: AsyncSession) -> None:
        """Failures counted since the last success anywhere were the outage's, not the sources'."""
        last_success = await session.scalar(select(func.max(Source.last_success_at)))
        failing = await session.execute(
            select(Source.id, Source.error_count, Source.first_error_at)
            .where(Source.state == "active", Source.error_count > 0))
        forgiven = []
        for source_id, errors, first in failing:
            values = health.forgiven(errors, first, last_success)
            if values:
                forgiven.append({"id": source_id, **values})
        if forgiven:
            await session.execute(update(Source), forgiven)
