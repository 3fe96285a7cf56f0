"""Delivery as a running service: digest scheduler, outbox maintenance and one sender per channel.

    handle = await start_delivery(app)
    telegram = await start_telegram(app, pacer=handle.pacer("telegram"))  # replies share it
    ...
    await handle.stop()

Start-up takes over rows left claimed by a sender that died (once their lease ran out) and
creates every digest that fell due while the bot was down, then runs:
- the scheduler, every minute just after the minute turns;
- maintenance: renews this process's leases and takes over expired ones of other processes;
- a sender for each channel in `app.channels`, including channels registered after start.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import func, select

from delivery import outbox
from delivery.digests import DigestScheduler
from delivery.pacing import Pacer, limits_for
from delivery.recorder import Recorder
from delivery.sender import ChannelSender
from model.channel import Channel
from model.enums import OutboxState
from runtime import App
from storage.models import Delivery

log = logging.getLogger(__name__)


class DeliveryService:
    def __init__(self, app: App) -> None:
        self.app = app
        # Identifies this process's claims; a restart is a new sender.
        self.owner = f"{uuid.uuid4().hex[:12]}"
        self.recorder = Recorder(app)
        self.scheduler = DigestScheduler(app)
        self.pacers: dict[str, Pacer] = {}
        self.senders: dict[str, ChannelSender] = {}
        self.tasks: list[asyncio.Task[None]] = []

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
        self._start_senders()
        loop = asyncio.get_running_loop()
        self.tasks += [
            loop.create_task(self._every_minute(), name="delivery-scheduler"),
            loop.create_task(self._maintenance(), name="delivery-maintenance"),
        ]

    def _start_senders(self) -> None:
        for name, channel in list(self.app.channels.items()):
            if name not in self.senders:
                sender = ChannelSender(self.app, channel, self.pacer(name, channel),
                                       self.recorder, self.owner)
                self.senders[name] = sender
                self.tasks.append(asyncio.get_running_loop().create_task(
                    _guarded(sender.run, f"{name} sender"), name=f"delivery-{name}"))
                log.info("delivery: sending on %s", name)

    async def _every_minute(self) -> None:
        while True:
            now = datetime.now()
            await asyncio.sleep(60.5 - now.second - now.microsecond / 1e6)
            try:
                await self.scheduler.tick()
            except Exception:
                log.exception("digest scheduler tick failed; next minute again")

    async def _maintenance(self) -> None:
        interval = min(self.app.settings.delivery_claim_timeout_seconds / 3,
                       self.app.settings.delivery_poll_seconds * 5)
        while True:
            await asyncio.sleep(interval)
            try:
                self._start_senders()
                working = [row_id for sender in self.senders.values()
                           for row_id in sender.in_flight_ids()]
                if working:
                    await self.recorder.write(
                        outbox.renewing(self.owner, working, self.app.clock()))
                await self.recorder.write(outbox.reclaiming(outbox.stale_cutoff(self.app)))
            except Exception:
                log.exception("delivery maintenance failed; trying again")

    async def idle(self) -> bool:
        """Nothing due is waiting and nothing is being sent (for `bot.py deliver --until-idle`)."""
        if any(lane for s in self.senders.values() for lane in s.inflight.values()):
            return False
        async with self.app.sessions() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    (
                        (Delivery.state == OutboxState.PENDING)
                        & (Delivery.due_at <= self.app.clock())
                    )
                    | (Delivery.state == OutboxState.SENDING)
                )
            )
        return not waiting

    async def stop(self) -> None:
        """Stop claiming, let in-flight sends finish briefly, record everything, and hand back
        what is unfinished (pending again, for the next start)."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for sender in self.senders.values():
            await sender.stop()
        await self.recorder.stop()
        released = await outbox.release_claims(self.app, self.owner)
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


async def start_delivery(app: App) -> DeliveryService:
    """Start delivering (see the module docstring); `await handle.stop()` on the way out."""
    service = DeliveryService(app)
    await service.start()
    return service
