"""The delivery service's writer (delivery/recorder.py) when it is cancelled under its callers,
as a loop that shuts down cancels every task at once: nobody waits forever on a write that will
never run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
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
