"""Wait on a condition with a timeout, instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# How long any one awaited condition may take before the test fails. It only detects a hang:
# a passing test never waits for it, so it is generous enough for a loaded CI machine.
PATIENCE = float(os.environ.get("LOA_TEST_PATIENCE", "120"))


async def wait_for(
    condition: Callable[[], T | Awaitable[T]], timeout: float = PATIENCE, interval: float = 0.02
) -> T:
    """Poll `condition` (sync or async) until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value  # type: ignore[misc]
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


def wait_for_sync(
    condition: Callable[[], T], timeout: float = PATIENCE, interval: float = 0.02
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)
