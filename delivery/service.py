"""Delivery as a running service: digest scheduler, outbox maintenance and one sender per channel.

    handle = await start_delivery(app)
    telegram = await start_telegram(app, pacer=handle.pacer("telegram"))  # replies share it
    ...
    await handle.stop()

Start-up takes over rows left claimed by a sender that died (once their lease ran out) and
creates every digest that fell due while the bot was down, then runs:
- the digest tick, an APScheduler job every minute as the minute turns, reading `app.clock`;
- maintenance, a job too: renews this process's leases, takes over expired ones of other processes;
- retention, a daily job at settings.retention_hour (delivery.retention);
- a sender for each channel in `app.channels`, including channels registered after start.

Both jobs go on the scheduler `bot.py run` already runs for polling (`start_delivery(app,
scheduler)`); without one (`bot.py deliver`, tests) the service starts its own and shuts it down
on `stop()`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from delivery import outbox
from delivery.digests import DigestScheduler
from delivery.pacing import Pacer, limits_for
from delivery.recorder import Recorder
from delivery.retention import run_retention
from delivery.sender import ChannelSender
from model.channel import Channel
from model.enums import OutboxState
from runtime import App
from storage.models import Delivery

log = logging.getLogger(__name__)
TICK_JOB, MAINTENANCE_JOB = "loa.digest_tick", "loa.delivery_maintenance"
RETENTION_JOB = "loa.retention"


class DeliveryService:
    def __init__(self, app: App, scheduler: AsyncIOScheduler | None = None) -> None:
        self.app = app
        self._owns_jobs = scheduler is None
        self.jobs = AsyncIOScheduler(timezone=app.settings.tz) if scheduler is None else scheduler
        # Identifies this process's claims; a restart is a new sender.
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self.recorder = Recorder(app)
        self.scheduler = DigestScheduler(app)
        self.pacers: dict[str, Pacer] = {}
        self.senders: dict[str, ChannelSender] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}  # each sender's loop
        self._job_runs: set[asyncio.Task[object]] = set()  # so stop() can cancel a running job

    def pacer(self, name: str, channel: Channel | None = None) -> Pacer:
        """The pacer of a channel: the sender's, shared with that channel's command replies.
        It can be asked for before the channel is registered."""
        if name not in self.pacers:
            channel = channel or self.app.channels.get(name)
            caps = channel.capabilities if channel is not None else None
            self.pacers[name] = Pacer(limits_for(self.app.settings, name, caps))
        return self.pacers[name]

    async def start(self) -> None:
        await outbox.reclaim_stale(self.app)
        created = await self.scheduler.tick()
        if created:
            log.info("start-up: %d digests were due", created)
        self.recorder.start()
        self.start_senders()
        settings = self.app.settings
        interval = min(settings.delivery_claim_timeout_seconds / 3,
                       settings.delivery_poll_seconds * 5)
        # A late run (a busy machine) still runs once; a run never overlaps the previous one.
        self.jobs.add_job(self._tick, CronTrigger(second=0, timezone=settings.tz), id=TICK_JOB,
                          name="digest tick", max_instances=1, coalesce=True,
                          misfire_grace_time=30, replace_existing=True)
        self.jobs.add_job(self._maintenance, "interval", seconds=interval, id=MAINTENANCE_JOB,
                          name="delivery maintenance", max_instances=1, coalesce=True,
                          misfire_grace_time=int(interval) + 1, replace_existing=True)
        self.jobs.add_job(self._retention, CronTrigger(hour=settings.retention_hour, minute=30,
                                                       timezone=settings.tz),
                          id=RETENTION_JOB, name="retention", max_instances=1, coalesce=True,
                          misfire_grace_time=3600, replace_existing=True)
        if self._owns_jobs:
            self.jobs.start()

    def start_senders(self) -> None:
        """A sender for each registered channel that has none yet."""
        for name, channel in list(self.app.channels.items()):
            if name not in self.senders:
                sender = ChannelSender(self.app, channel, self.pacer(name, channel),
                                       self.recorder, self.owner)
                self.senders[name] = sender
                self.tasks[name] = asyncio.get_running_loop().create_task(
                    _guarded(sender.run, f"{name} sender"), name=f"delivery-{name}")
                log.info("delivery: sending on %s", name)

    async def stop_sender(self, name: str) -> None:
        """Stop sending on one channel (this instance no longer leads it): in-flight sends
        finish briefly, what is unfinished goes back to pending."""
        task, sender = self.tasks.pop(name, None), self.senders.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if sender is not None:
            await sender.stop()
        await self._release_claims(name)

    async def _release_claims(self, channel: str | None = None) -> int:
        """Hand back this process's claims (of one channel, or all); with the database away
        they are left to run out, and another sender takes them back then."""
        try:
            released: int = await outbox.release_claims(self.app, self.owner, channel)
        except Exception:
            log.warning("%s: claims not released; they are taken back when they run out",
                        channel or "delivery", exc_info=True)
            return 0
        return released

    def _tracked(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._job_runs.add(task)
            task.add_done_callback(self._job_runs.discard)

    async def _tick(self) -> None:
        self._tracked()
        try:
            await self.scheduler.tick()
        except Exception:
            log.exception("digest scheduler tick failed; next minute again")

    async def _maintenance(self) -> None:
        self._tracked()
        try:
            self.start_senders()
            working = [row_id for sender in self.senders.values()
                       for row_id in sender.in_flight_ids()]
            # One instant for both: on a stalled machine the renewal may land seconds late, and
            # a cutoff read after it would find the rows just renewed already expired.
            now = self.app.clock()
            if working:
                await self.recorder.write(outbox.renewing(self.owner, working, now))
            await self.recorder.write(
                outbox.reclaiming(outbox.stale_cutoff(self.app, now), working))
        except Exception:
            log.exception("delivery maintenance failed; trying again")

    async def _retention(self) -> None:
        self._tracked()
        try:
            await run_retention(self.app)
        except Exception:
            log.exception("retention failed; tomorrow again")

    def unschedule(self) -> list[asyncio.Task[object]]:
        """Take the jobs off the scheduler (shut it down if it is the service's own); returns
        the job runs still going, for the caller to cancel."""
        for job_id in (TICK_JOB, MAINTENANCE_JOB, RETENTION_JOB):
            try:
                self.jobs.remove_job(job_id)
            except JobLookupError:
                pass  # the shared scheduler was shut down first (cli/run.py stops polling first)
        if self._owns_jobs and self.jobs.running:
            self.jobs.shutdown(wait=False)
        return list(self._job_runs)

    async def idle(self) -> bool:
        """Nothing due is waiting and nothing is being sent (for `bot.py deliver --until-idle`)."""
        if any(lane for s in self.senders.values() for lane in s.inflight.values()):
            return False
        async with self.app.sessions() as session:
            waiting = await session.scalar(
                select(func.count()).select_from(Delivery).where(
                    ((Delivery.state == OutboxState.PENDING)
                     & (Delivery.due_at <= self.app.clock()))
                    | (Delivery.state == OutboxState.SENDING))
            )
        return not waiting

    async def stop(self) -> None:
        """Stop claiming, let in-flight sends finish briefly, record everything, and hand back
        what is unfinished (pending again, for the next start)."""
        tasks = [*self.unschedule(), *self.tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.tasks.clear()
        for sender in self.senders.values():
            await sender.stop()
        await self.recorder.stop()
        released = await self._release_claims()
        if released:
            log.info("delivery stopped: %d unfinished messages go back to the queue", released)
        for pacer in self.pacers.values():
            pacer.close()


async def _guarded(run: Callable[[], Awaitable[None]], what: str) -> None:
    """Keep a loop running: a bug in one pass is logged, and the loop starts again."""
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped on an error; restarting it", what)
            await asyncio.sleep(1.0)


async def start_delivery(app: App, scheduler: AsyncIOScheduler | None = None) -> DeliveryService:
    """Start delivering (see the module docstring); `await handle.stop()` on the way out.
    With `scheduler`, the jobs go on it and its owner starts and shuts it down."""
    service = DeliveryService(app, scheduler)
    await service.start()
    return service
