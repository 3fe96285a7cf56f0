"""Several `bot.py run` on one PostgreSQL: which instance leads each chat channel, and which
takes each chat update (README "Running several instances").

One instance at a time leads a channel: it holds the lease "channel:<name>" (storage.leases),
long-polls the platform's updates, handles them, and sends everything on that channel — the
replies and the outbox — through its one pacer, so the platform's limits hold for all instances
together with no per-message coordination. The others stand by and try to take the lease every
third of LEADER_LEASE_SECONDS; the leader renews it as often, and gives the channel up as soon
as a renewal fails or takes half the lease (so by 5/6 of it), before it can run out under it.
A leader killed with -9 stops renewing, and another takes over within about 4/3 of the lease.

Chat updates are taken once (`take_update`): a platform may hand the same update to a new
leader (Telegram confirms an offset only with the next poll) or, by webhook, to any instance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from runtime import App
from storage import leases
from storage.db import make_engine, make_sessionmaker
from storage.dialect import lock_for_write

log = logging.getLogger(__name__)

SEEN_UPDATES_KEPT = timedelta(days=1)

Start = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]  # starts a duty; returns its stop


async def take_update(app: App, channel: str, key: str) -> bool:
    """Whether this instance should handle chat update `key` of `channel`: False when another
    instance has taken it (or handled it). Call `finish_update` once it is handled; one taken
    and never finished (its instance died) is taken again after LEADER_LEASE_SECONDS."""
    now = app.clock()
    retake = now - timedelta(seconds=app.settings.leader_lease_seconds)
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        return await leases.take_update(session, channel, key, now, retake)


async def finish_update(app: App, channel: str, key: str) -> None:
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        await leases.finish_update(session, channel, key)


class Leadership:
    """Holds, or waits for, lease `name`; runs `start` when it gains it and the stop that
    returns when it loses it (or on `close`)."""

    def __init__(self, app: App, name: str, holder: str, start: Start) -> None:
        self.app = app
        self.name = name
        self.holder = holder
        self.start = start
        self.stop: Callable[[], Awaitable[None]] | None = None
        # Its own connection: a renewal must not queue for the pool behind a digest run.
        self.engine = make_engine(app.settings.database_url, pool_size=1)
        self.sessions = make_sessionmaker(self.engine)

    @property
    def leading(self) -> bool:
        return self.stop is not None

    @property
    def every(self) -> float:
        return self.app.settings.leader_lease_seconds / 3

    async def hold(self) -> bool:
        """Take or renew the lease; False when another holds it or the database does not
        answer within half the lease (tried a third after the last renewal, the lease would
        then run out before the next try)."""
        now = self.app.clock()
        until = now + timedelta(seconds=self.app.settings.leader_lease_seconds)

        async def take() -> bool:
            async with self.sessions() as session, session.begin():
                await lock_for_write(session)
                held = await leases.take_lease(session, self.name, self.holder, now, until)
                if held:
                    await leases.prune_updates(session, now - SEEN_UPDATES_KEPT)
                return held

        try:
            return await asyncio.wait_for(take(), self.app.settings.leader_lease_seconds / 2)
        except Exception:  # the database is away: not the leader until it answers again
            log.warning("lease %s: the database did not answer", self.name, exc_info=True)
            return False

    async def step(self) -> None:
        """One round: gain, keep or lose the lease, and start or stop the duty with it."""
        held = await self.hold()
        if held and self.stop is None:
            log.info("lease %s taken by %s: this instance leads", self.name, self.holder)
            try:
                self.stop = await self.start()
            except BaseException:
                await self._drop()
                raise
        elif not held and self.stop is not None:
            log.warning("lease %s lost: this instance stops leading", self.name)
            await self._stop_duty()

    async def run(self) -> None:
        """Step every third of the lease until cancelled."""
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lease %s: starting the duty failed; trying again", self.name)
            await asyncio.sleep(self.every)

    async def close(self) -> None:
        """Stop the duty and give the lease up at once, so another instance takes over now."""
        if self.stop is not None:
            await self._stop_duty()
            await self._drop()
        await self.engine.dispose()

    async def _stop_duty(self) -> None:
        stop, self.stop = self.stop, None
        if stop is not None:
            await stop()

    async def _drop(self) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await lock_for_write(session)
                await leases.drop_lease(session, self.name, self.holder)
        except Exception:  # it runs out by itself
            log.warning("lease %s could not be given up", self.name, exc_info=True)
