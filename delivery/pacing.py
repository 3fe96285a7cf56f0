"""Exact sliding-window pacing for one channel: every window is held, not an average.

- at most `global_per_second` sends in ANY 1 s window, across all chats, spread evenly;
- at most one send per `1 / private_per_second` seconds to one private chat;
- at most `group_per_minute` sends in ANY 60 s window to one group or channel.

A token bucket (and PTB's AIORateLimiter) lets a burst through after an idle spell; a sliding
window of the last N send times can't. Each window is stretched by a small safety margin, because
the platform counts arrivals, and requests sent exactly one window apart can arrive closer than
that.

Waiters are served by lane (0 = instant alerts and command replies, before 1 = digests and other
bulk), first come first served within a lane, skipping a waiter whose chat is not yet allowed, so
one busy chat never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from config import Settings
from model.channel import Capabilities

# The windows are stretched by this fraction (1 s → 1.01 s). The sender's messages count from
# the platform's answer (see Window), so this only covers replies, which count from their grant:
# a reply held up for a moment behind another task, then a message sent on time.
SAFETY = 0.01
INTERACTIVE, BULK = 0, 1


@dataclass(frozen=True)
class Limits:
    global_per_second: int
    private_per_second: float
    group_per_minute: int


# A channel with no limits of its own (the console).
UNLIMITED = Limits(1000, 1000.0, 1000)


def limits_for(settings: Settings, name: str, caps: Capabilities | None = None) -> Limits:
    """The configured limits for a channel (settings), else its own defaults (capabilities)."""
    if name in ("telegram", "zalo"):
        return Limits(
            global_per_second=getattr(settings, f"{name}_global_per_second"),
            private_per_second=getattr(settings, f"{name}_private_per_second"),
            group_per_minute=getattr(settings, f"{name}_group_per_minute"),
        )
    if caps is None:
        return UNLIMITED
    return Limits(max(1, int(caps.global_per_second)), caps.private_per_second,
                  max(1, int(caps.group_per_minute)))


def is_group(chat_key: str, chat_kind: str) -> bool:
    """Groups and channels share the per-minute limit; Telegram gives them negative ids."""
    return chat_kind in ("group", "channel") or chat_key.startswith("-")


class Window:
    """At most `count` messages in any window of `seconds`, as the platform sees them arrive.

    A message arrives somewhere between our send and the platform's answer. A message whose
    answer we wait for (`start`, then `finish`) counts from its answer: the latest it can have
    arrived; until then it counts as arriving at any moment. So request delays on our side or on
    the network never let the platform see more than `count` in a window. A message counted from
    its grant alone (`record`) relies on the small safety margin."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds * (1 + SAFETY)
        self.done: deque[float] = deque(maxlen=count)  # counted times, oldest first
        self.open = 0  # sent, answer not back yet

    def next_allowed(self, now: float) -> float:
        room = self.count - 1 - self.open  # earlier messages that may share the new one's window
        if room < 0:
            return math.inf  # wait for an answer
        if len(self.done) <= room:
            return now
        return max(now, self.done[-(room + 1)] + self.seconds)

    def record(self, now: float) -> None:
        self.done.append(now)

    def start(self) -> None:
        self.open += 1

    def finish(self, now: float) -> None:
        self.open -= 1
        self.done.append(now)

    def idle(self, now: float) -> bool:
        return not self.open and (not self.done or self.done[-1] + self.seconds <= now)


class Limiter:
    """The pure window arithmetic, with no clock of its own: unit-testable with any time."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.global_window = Window(limits.global_per_second, 1.0)
        # Grants are also spread evenly: a full window would otherwise reopen all at once, and
        # a message arriving just after a burst would wait for the whole window.
        self.spacing = (1 + SAFETY) / limits.global_per_second
        self.last_grant = float("-inf")
        self.chats: dict[str, Window] = {}
        self.paused_until = 0.0

    def _chat_window(self, chat_key: str, chat_kind: str) -> Window:
        window = self.chats.get(chat_key)
        if window is None:
            if is_group(chat_key, chat_kind):
                window = Window(self.limits.group_per_minute, 60.0)
            else:
                window = Window(1, 1.0 / self.limits.private_per_second)
            self.chats[chat_key] = window
        return window

    def global_ready_at(self, now: float) -> float:
        return max(self.global_window.next_allowed(now), self.last_grant + self.spacing,
                   self.paused_until)

    def chat_ready_at(self, chat_key: str, chat_kind: str, now: float) -> float:
        return self._chat_window(chat_key, chat_kind).next_allowed(now)

    def record(self, chat_key: str, chat_kind: str, now: float, *, answered: bool = True) -> None:
        """Count a grant: at once, or (`answered=False`) from its answer, via `finish`."""
        # Keep to the grid when a grant comes a little late (timers do), so lateness does not
        # add up; the windows still hold every limit.
        on_grid = self.last_grant + self.spacing
        self.last_grant = on_grid if on_grid <= now < on_grid + self.spacing else now
        windows = (self.global_window, self._chat_window(chat_key, chat_kind))
        for window in windows:
            if answered:
                window.record(now)
            else:
                window.start()

    def finish(self, chat_key: str, chat_kind: str, now: float) -> None:
        """The answer to a message counted with `answered=False` came back."""
        self.global_window.finish(now)
        self._chat_window(chat_key, chat_kind).finish(now)

    def pause(self, until: float) -> None:
        self.paused_until = max(self.paused_until, until)

    def forget_idle(self, now: float) -> None:
        """Drop windows of chats that can send again anyway, so memory stays bounded."""
        for key in [k for k, w in self.chats.items() if w.idle(now)]:
            del self.chats[key]


@dataclass
class _Waiter:
    chat_key: str
    chat_kind: str
    future: asyncio.Future[None]
    answered: bool = True  # counted at the grant (True) or from the caller's report


class Pacer:
    """Grants send slots under a Limiter, by lane priority. One per channel per process."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = Limiter(limits)
        self.clock = clock
        self.lanes: list[deque[_Waiter]] = [deque(), deque()]
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._granted = 0

    async def acquire(self, chat_key: str, chat_kind: str = "private", lane: int = BULK, *,
                      answered: bool = True) -> None:
        """Wait until this chat may be sent one message now; the slot is then counted as used.
        With `answered=False` it counts from when the caller reports the answer (`answered()`),
        which the caller must do, whatever happens to the send (see `slot`)."""
        self._ensure_running()
        future = self.enqueue(chat_key, chat_kind, lane, answered=answered)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and not answered:
                self.answered(chat_key, chat_kind)  # granted, then given up: settle it
            self.lanes[lane] = deque(w for w in self.lanes[lane] if w.future is not future)
            raise

    @contextlib.asynccontextmanager
    async def slot(self, chat_key: str, chat_kind: str = "private",
                   lane: int = BULK) -> AsyncIterator[None]:
        """`async with pacer.slot(...): send`: the send counts from its answer."""
        await self.acquire(chat_key, chat_kind, lane, answered=False)
        try:
            yield
        finally:
            self.answered(chat_key, chat_kind)

    def answered(self, chat_key: str, chat_kind: str = "private") -> None:
        self.limiter.finish(chat_key, chat_kind, self.clock())
        self._wake.set()

    def enqueue(self, chat_key: str, chat_kind: str = "private", lane: int = BULK, *,
                answered: bool = True) -> asyncio.Future[None]:
        """Join the queue without waiting: the future is done when the slot is granted (by the
        running grant loop, or by `grant()` in a simulation with a fake clock)."""
        waiter = _Waiter(chat_key, chat_kind, asyncio.get_running_loop().create_future(),
                         answered)
        self.lanes[lane].append(waiter)
        self._wake.set()
        return waiter.future

    def pause(self, seconds: float) -> None:
        """Hold every send for `seconds` (the platform answered "retry after")."""
        self.limiter.pause(self.clock() + seconds)
        self._wake.set()

    def close(self) -> None:
        if self._task:
            self._task.cancel()
            self._task = None

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._grant_loop())

    async def _grant_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            delay = self.grant()
            if delay is None:
                await self._wake.wait()
                continue
            timer = loop.call_later(max(delay, 0.0005), self._wake.set)
            try:
                await self._wake.wait()
            finally:
                timer.cancel()

    def grant(self) -> float | None:
        """Grant as many waiters as the windows allow now; return how long until the next try
        (None: nobody waits)."""
        limiter = self.limiter
        while True:
            now = self.clock()
            ready_at = limiter.global_ready_at(now)
            if ready_at > now:
                if not self._has_waiters():
                    return None
                # Waiting for an answer (an infinite bound): an answer wakes the loop; look
                # again in a while all the same.
                return ready_at - now if ready_at != math.inf else 1.0
            waiter, soonest = self._pick(now)
            if waiter is None:
                # Capped: an answer or a new waiter wakes the loop before that anyway.
                return None if soonest is None else min(soonest - now, 1.0)
            limiter.record(waiter.chat_key, waiter.chat_kind, now, answered=waiter.answered)
            waiter.future.set_result(None)
            self._granted += 1
            if self._granted % 10_000 == 0:
                limiter.forget_idle(now)

    def _has_waiters(self) -> bool:
        return bool(self.lanes[0] or self.lanes[1])

    def _pick(self, now: float) -> tuple[_Waiter | None, float | None]:
        """The first waiter, by lane, whose chat may send now; else when the soonest one may."""
        soonest: float | None = None
        for lane in self.lanes:
            for waiter in lane:
                if waiter.future.done():  # cancelled while waiting
                    continue
                at = self.limiter.chat_ready_at(waiter.chat_key, waiter.chat_kind, now)
                if at <= now:
                    lane.remove(waiter)
                    return waiter, None
                soonest = at if soonest is None else min(soonest, at)
            # Drop cancelled waiters at the head cheaply.
            while lane and lane[0].future.done():
                lane.popleft()
        return None, soonest
