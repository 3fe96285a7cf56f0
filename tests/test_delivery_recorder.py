"""The delivery service's writer (delivery/recorder.py) when it is cancelled under its callers,
as a loop that shuts down cancels every task at once: nobody waits forever on a write that will
never run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.recorder import Recorder
from runtime import App
from tests.waiting import wait_for


async def test_a_cancelled_writer_leaves_no_caller_and_no_stop_waiting(app: App) -> None:
    recorder = Recorder(app)
    recorder.start()
    started, never = asyncio.Event(), asyncio.Event()

    async def stuck(session: AsyncSession) -> Any:
        started.set()
        await never.wait()

    async def quick(session: AsyncSession) -> Any:
        return 1

    assert await recorder.write(quick) == 1
    in_hand = asyncio.create_task(recorder.write(stuck))
    await started.wait()
    queued = asyncio.create_task(recorder.write(quick))
    await wait_for(lambda: not recorder.queue.empty())  # the second is queued behind it
    assert recorder.task is not None
    recorder.task.cancel()
    for caller in (in_hand, queued):
        with pytest.raises(asyncio.CancelledError):
            await caller
    await recorder.stop()  # returns: the queue is settled
    assert recorder.task is None


async def test_stop_gives_up_on_writes_the_database_never_takes(app: App) -> None:
    """The database away at shutdown: the writer retries, but `stop` returns after its patience
    and the waiting caller is told (its row stays claimed, and is taken back later)."""
    recorder = Recorder(app)
    recorder.start()
    tried = asyncio.Event()

    async def unreachable(session: AsyncSession) -> Any:
        tried.set()
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    caller = asyncio.create_task(recorder.write(unreachable))
    await tried.wait()
    await recorder.stop(patience=0.2)
    assert recorder.task is None
    with pytest.raises(asyncio.CancelledError):
        await caller
