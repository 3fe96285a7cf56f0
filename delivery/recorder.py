"""The delivery service's one writer: claims, results and leases, one transaction per batch.

At hundreds of messages a second, a transaction per result would make SQLite writers queue on
its lock (its busy handler sleeps in steps of milliseconds, and a writer that keeps the lock
busy starves the others). Writes are queued instead and run together by one task; each caller
awaits its own, so "recorded" still means committed before the next part of the same message
goes out, and a claim's rows are returned once the claim is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import App
from storage.dialect import lock_for_write

log = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Awaitable[Any]]
MAX_BATCH = 500
RETRY_SECONDS = 1.0
# How long `stop` waits for the queued writes: with the database away they would wait for ever,
# and a process asked to stop must stop.
STOP_SECONDS = 10.0


class Recorder:
    def __init__(self, app: App) -> None:
        self.app = app
        self.queue: asyncio.Queue[tuple[Write, asyncio.Future[Any]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.retries = 0  # writes retried because the database was away

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="delivery-recorder")

    async def write(self, write: Write) -> Any:
        """Queue a write, wait until it is committed, and return what it returned."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.queue.put((write, done))
        return await done

    async def stop(self, patience: float = STOP_SECONDS) -> None:
        """Write what is queued, then stop; after `patience` seconds (the database is away),
        stop anyway: the writes not made are cancelled, and their rows, still claimed, are
        taken back once their claims run out (only what was in flight can go out twice)."""
        if self.task is None:
            return
        try:
            await asyncio.wait_for(self.queue.join(), patience)
        except TimeoutError:
            log.warning("delivery writes not recorded at stop (%d queued): the database does not "
                        "answer; their rows are taken back when their claims run out",
                        self.queue.qsize())
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.task = None

    async def _run(self) -> None:
        batch: list[tuple[Write, asyncio.Future[Any]]] = []
        try:
            while True:
                batch = [await self.queue.get()]
                while len(batch) < MAX_BATCH and not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                try:
                    results = await self._commit([write for write, _ in batch])
                    for (_, done), result in zip(batch, results, strict=True):
                        if not done.done():
                            done.set_result(result)
                except Exception:
                    log.exception("%d delivery writes together failed; one by one now",
                                  len(batch))
                    for write, done in batch:
                        await self._one(write, done)
                for _ in batch:
                    self.queue.task_done()
                batch = []
        finally:
            # Cancelled (a loop that shuts down cancels every task at once): the writes in hand
            # and those queued will not run, so their callers, and `stop`'s join, must not wait
            # for them. What they would have recorded is reclaimed as stale later.
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            for _, done in batch:
                done.cancel()
                self.queue.task_done()

    async def _commit(self, writes: list[Write]) -> list[Any]:
        async with self.app.sessions() as session, session.begin():
            await lock_for_write(session)
            return [await write(session) for write in writes]

    async def _one(self, write: Write, done: asyncio.Future[Any]) -> None:
        """Retry while the database is unreachable or locked; a write that is wrong in itself
        fails its caller instead of blocking everyone behind it."""
        while True:
            try:
                [result] = await self._commit([write])
            except (OperationalError, InterfaceError):
                log.warning("database unavailable for delivery writes; retrying", exc_info=True)
                self.retries += 1
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except Exception as exc:  # noqa: BLE001 - handed to the caller, who records it
                if not done.done():
                    done.set_exception(exc)
                return
            if not done.done():
                done.set_result(result)
            return
