"""One writer for the sender's results: many small writes, one transaction per batch.

At hundreds of messages a second, a transaction per result would make SQLite writers queue on
its lock (and its busy handler sleeps in steps of milliseconds). Results are queued instead and
written together by one task; each caller awaits its own write, so "recorded" still means
committed before the next part of the same message goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import App

log = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Awaitable[None]]
MAX_BATCH = 500
RETRY_SECONDS = 1.0


class Recorder:
    def __init__(self, app: App) -> None:
        self.app = app
        self.queue: asyncio.Queue[tuple[Write, asyncio.Future[None]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="delivery-recorder")

    async def write(self, write: Write) -> None:
        """Queue a write and wait until it is committed."""
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((write, done))
        await done

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self.task is None:
            return
        await self.queue.join()
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.task = None

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._commit([write for write, _ in batch])
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
            except Exception:
                log.exception("recording %d delivery results together failed; one by one now",
                              len(batch))
                for write, done in batch:
                    await self._one(write, done)
            for _ in batch:
                self.queue.task_done()

    async def _commit(self, writes: list[Write]) -> None:
        async with self.app.sessions() as session, session.begin():
            for write in writes:
                await write(session)

    async def _one(self, write: Write, done: asyncio.Future[None]) -> None:
        """Retry while the database is unreachable or locked; a write that is wrong in itself
        fails its caller instead of blocking everyone behind it."""
        while True:
            try:
                await self._commit([write])
            except (OperationalError, InterfaceError):
                log.warning("database unavailable for delivery results; retrying", exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
                return
            if not done.done():
                done.set_result(None)
            return
