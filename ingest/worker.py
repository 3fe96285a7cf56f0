"""Poll sources: which ones and when; the ingest handler does the rest for each.

- `poll_once(app)`: every active source, once (`bot.py poll --once`).
- `start_polling(app, scheduler)`: an APScheduler job that every few seconds polls the sources
  whose next_check_at has come (`bot.py run`). The schedule lives in the database, so a restart
  picks up where it left off; the job never overlaps itself and a source being polled is never
  polled again until it is done. Several instances share the sources: each due source is
  claimed by one of them (storage.leases.claim_due_sources), so it is fetched once per interval.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from ingest.handler import Classifies, Handler, Polled, PollReport, SourceState
from runtime import App

log = logging.getLogger(__name__)

MAX_PARALLEL_SOURCES = 32  # bounds memory: each body may be up to HTTP_MAX_BYTES


class Poller:
    """Holds the set of sources being polled, and the handler. One per process."""

    def __init__(self, app: App, *, classifier: Classifies | None = None) -> None:
        self.app = app
        self.handler = Handler(app, classifier=classifier)
        self._running: set[int] = set()
        self.owner = uuid.uuid4().hex[:12]  # this process's claims on sources

    async def poll_all(self) -> PollReport:
        """Every active source, now."""
        return await self.poll(await self.handler.sources())

    async def poll_due(self) -> PollReport:
        """The active sources whose next check has come; never raises (it runs as a job). The
        job logs its summary; `poll --once` prints it instead, so it is said once."""
        try:
            await self.handler.catch_up()
            claimed = await self.handler.claim_due(self.owner)
        except Exception:
            log.exception("claiming the due sources failed")
            return PollReport()
        try:
            report = await self.poll(claimed)
        except Exception:
            log.exception("polling due sources failed")
            return PollReport()
        finally:
            await self._release([s.id for s in claimed])
        if report.outcomes:
            quiet = not report.new_items and not report.failed
            log.log(logging.DEBUG if quiet else logging.INFO, "%s", report.summary())
        return report

    async def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        try:
            await self.handler.release(ids, self.owner)
        except Exception:  # the claims run out by themselves (SOURCE_CLAIM_SECONDS)
            log.exception("releasing %d polled sources failed", len(ids))

    async def poll(self, sources: list[SourceState]) -> PollReport:
        sources = [s for s in sources if s.id not in self._running]
        if not sources:
            return PollReport()
        self._running.update(s.id for s in sources)
        try:
            gate = asyncio.Semaphore(MAX_PARALLEL_SOURCES)
            async with self.handler.fetcher() as fetcher:
                async def one(source: SourceState) -> Polled:
                    async with gate:
                        return await self.handler.refresh(fetcher, source)

                polled = await asyncio.gather(*(one(s) for s in sources))
            report = await self.handler.record(list(polled))
        finally:
            self._running.difference_update(s.id for s in sources)
        return report


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
