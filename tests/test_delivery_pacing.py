"""Pacing: every sliding window held exactly (not on average), interactive lane first.

The pacer is driven with a fake clock: `grant()` is what its loop runs, at the times it says."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from itertools import pairwise

from delivery.pacing import BULK, INTERACTIVE, SAFETY, Limits, Pacer
from tests.fakes.clock import FakeClock
from tests.fakes.http_fake import max_in_window
from tests.waiting import PATIENCE


class Sim:
    """Requests queued on a pacer, and when each was granted, by the fake clock."""

    def __init__(self, pacer: Pacer, clock: FakeClock[float]) -> None:
        self.pacer, self.clock = pacer, clock
        self.waiting: list[tuple[str, asyncio.Future[None]]] = []
        self.times: dict[str, list[float]] = defaultdict(list)
        self.order: list[str] = []

    def add(self, requests: list[tuple[str, str, int]]) -> None:
        for key, kind, lane in requests:
            self.waiting.append((key, self.pacer.enqueue(key, kind, lane)))

    def run(self, until: float = 1e9) -> None:
        """Advance the fake clock exactly as the grant loop would sleep."""
        while self.clock.now < until:
            delay = self.pacer.grant()
            for key, future in [w for w in self.waiting if w[1].done()]:
                self.times[key].append(self.clock.now)
                self.order.append(key)
                self.waiting.remove((key, future))
            if delay is None:
                return
            self.clock.now += max(delay, 1e-6)

    def all_times(self) -> list[float]:
        return sorted(t for ts in self.times.values() for t in ts)


async def test_global_window_holds_in_every_second_even_after_idle() -> None:
    clock = FakeClock(1000.0)
    pacer = Pacer(Limits(30, 1.0, 20), clock=clock)
    sim = Sim(pacer, clock)
    sim.add([(str(n), "private", BULK) for n in range(95)])
    sim.run()
    everything = sim.all_times()
    assert len(everything) == 95 and not sim.waiting
    assert max_in_window(everything, 1.0) == 30  # a burst of ~50 would break this
    # Full rate, evenly spread: 95 messages take 94 intervals of a 30th of a (stretched) second.
    assert everything[-1] - everything[0] < 94 * (1 + SAFETY) / 30 + 0.01
    gaps = [b - a for a, b in pairwise(everything)]
    assert min(gaps) >= (1 + SAFETY) / 30 - 1e-9
    # After an idle spell, a new burst still gets at most 30 in its first second.
    clock.now += 10
    later = Sim(pacer, clock)
    later.add([(f"b{n}", "private", BULK) for n in range(45)])
    later.run()
    assert max_in_window(later.all_times(), 1.0) == 30


async def test_private_chat_once_a_second_and_group_twenty_a_minute() -> None:
    clock = FakeClock(1000.0)
    pacer = Pacer(Limits(30, 1.0, 20), clock=clock)
    requests = [("42", "private", BULK)] * 5 + [("-100", "group", BULK)] * 45
    requests += [(str(n), "private", BULK) for n in range(20)]
    sim = Sim(pacer, clock)
    sim.add(requests)
    sim.run()
    times = sim.times
    assert len(times["42"]) == 5 and max_in_window(times["42"], 1.0) == 1
    assert len(times["-100"]) == 45 and max_in_window(times["-100"], 60.0) == 20
    # Other chats were not held up by the busy ones.
    assert max(times[str(n)][0] for n in range(20)) < 1000.0 + 2 * (1 + SAFETY)


async def test_interactive_lane_overtakes_a_bulk_backlog() -> None:
    clock = FakeClock(1000.0)
    pacer = Pacer(Limits(10, 1.0, 20), clock=clock)
    sim = Sim(pacer, clock)
    sim.add([(f"d{n}", "private", BULK) for n in range(100)])
    sim.run(until=clock.now + 2.5)  # the digest run is under way
    sim.add([("reply", "private", INTERACTIVE)])
    arrived = clock.now
    sim.run()
    assert sim.times["reply"][0] - arrived <= (1 + SAFETY) / 10 + 1e-9  # the next slot
    assert sim.order.index("reply") < 30 and len(sim.order) == 101


async def test_retry_after_pauses_everything() -> None:
    clock = FakeClock(1000.0)
    pacer = Pacer(Limits(30, 1.0, 20), clock=clock)
    pacer.pause(5.0)
    sim = Sim(pacer, clock)
    sim.add([("1", "private", INTERACTIVE)])
    start = clock.now
    sim.run()
    assert sim.times["1"][0] >= start + 5.0


async def test_real_pacer_grants_waiters_in_real_time() -> None:
    pacer = Pacer(Limits(50, 100.0, 100))
    try:
        await asyncio.wait_for(
            asyncio.gather(*(pacer.acquire(str(n)) for n in range(60))), timeout=PATIENCE)
    finally:
        pacer.close()


async def test_a_message_counts_from_its_answer() -> None:
    """Two a second; two sends still waiting for their answers hold the window, and it runs
    from their answers: however late a request reached the platform, the window held there."""
    clock = FakeClock(1000.0)
    pacer = Pacer(Limits(2, 1000.0, 20), clock=clock)
    first = pacer.enqueue("a", answered=False)
    second = pacer.enqueue("b", answered=False)
    third = pacer.enqueue("c")
    pacer.grant()
    clock.now += 0.6
    pacer.grant()
    assert first.done() and second.done() and not third.done()
    clock.now += 5.0  # no answers yet: nothing more may go
    pacer.grant()
    assert not third.done()
    pacer.answered("a")  # first answer at 1005.6
    answered_at = clock.now
    clock.now += 0.5
    pacer.grant()
    assert not third.done()  # the second is still out: the window is still full
    pacer.answered("b")
    clock.now = answered_at + (1 + SAFETY) + 1e-6
    pacer.grant()
    assert third.done()
