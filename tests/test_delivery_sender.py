"""The sender's decision table, fairness between lanes, a rejected token, and leases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from delivery import outbox
from delivery.outbox import enqueue
from delivery.pacing import BULK, INTERACTIVE
from delivery.sender import backoff, decide
from delivery.service import start_delivery
from model.channel import Outcome, Status
from runtime import App, open_app
from storage.models import Delivery, User
from tests.conftest import make_settings
from tests.delivery_support import (
    T0,
    MemoryChannel,
    add_chat,
    delivery_settings,
    run_until_idle,
)
from tests.waiting import wait_for


def test_decision_table() -> None:
    settings = make_settings("sqlite://", delivery_max_attempts=3, delivery_retry_base_seconds=2)
    assert decide(Outcome(Status.OK), 1, settings).kind == "sent"
    wait = decide(Outcome(Status.RETRY_AFTER, "flood", retry_after=7), 1, settings)
    assert (wait.kind, wait.delay) == ("wait", 7)
    assert decide(Outcome(Status.GONE, "blocked"), 1, settings).kind == "gone"
    assert decide(Outcome(Status.MIGRATED, new_chat_key="-100"), 1, settings).kind == "migrate"
    first, second = (decide(Outcome(Status.TRANSIENT, "502"), n, settings) for n in (1, 2))
    assert (first.kind, first.delay, second.delay) == ("retry", 2, 4)
    last = decide(Outcome(Status.TRANSIENT, "502"), 3, settings)
    assert last.kind == "fail" and "3 attempts" in last.reason
    bad = decide(Outcome(Status.BAD_CONTENT, "can't parse"), 1, settings)
    assert bad.kind == "fail" and bad.alert
    assert decide(Outcome(Status.AUTH, "401"), 1, settings).kind == "auth"
    assert backoff(30, 5) == 3600  # bounded


@pytest.fixture
async def dapp(db_url: str) -> AsyncIterator[App]:
    app = open_app(delivery_settings(db_url))
    yield app
    await app.close()


async def test_instant_overtakes_a_digest_backlog(dapp: App) -> None:
    memory = MemoryChannel(per_second=40)
    dapp.channels = {"memory": memory}
    async with dapp.sessions() as session, session.begin():
        chats = [await add_chat(session, 2000 + n, channel="memory") for n in range(120)]
        alert_chat = await add_chat(session, 1999, channel="memory")
    for n, chat in enumerate(chats):
        await enqueue(dapp, chat, [f"bản tin {n}"], kind="digest", dedup_key=f"d{n}", lane=BULK)
    service = await start_delivery(dapp)
    try:
        await wait_for(lambda: len(memory.sent) >= 30)
        await enqueue(dapp, alert_chat, ["tin khẩn"], kind="instant", dedup_key="now",
                      lane=INTERACTIVE)
        await wait_for(lambda: memory.texts_for(1999))
        position = [key for key, _ in memory.sent].index("1999")
        await wait_for(lambda: len(memory.sent) == 121)
    finally:
        await service.stop()
    # A poll and the next free slot, not the rest of the backlog: counted in messages, not seconds.
    assert position < 80 and 120 - position > 30


async def test_rejected_token_stops_sending_and_keeps_the_message(dapp: App) -> None:
    memory = MemoryChannel()
    dapp.channels = {"memory": memory}
    async with dapp.sessions() as session, session.begin():
        chat = await add_chat(session, 3001, channel="memory")
        other = await add_chat(session, 3002, channel="memory")
        await add_chat(session, 777, channel="memory")
        session.add(User(channel="memory", user_key="777", role="admin"))  # ADMIN_IDS: per channel
    memory.script["3001"] = [Outcome(Status.AUTH, "token rejected")]
    await enqueue(dapp, chat, ["một"], kind="broadcast", dedup_key="a1", lane=BULK)
    service = await start_delivery(dapp)
    try:
        async def back_to_pending() -> bool:
            async with dapp.sessions() as session:
                row = (await session.execute(
                    select(Delivery.state, Delivery.attempts, Delivery.last_error)
                    .where(Delivery.chat_id == chat))).one()
            return row[0] == "pending" and row[1] == 0 and "token" in (row[2] or "")
        await wait_for(back_to_pending)
        await enqueue(dapp, other, ["hai"], kind="broadcast", dedup_key="a2", lane=BULK)
        await wait_for(lambda: len(memory.calls) >= 1)
        # Nothing more goes out while the token is bad (the pause is minutes long).
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            assert memory.sent == []
            await _tick()
    finally:
        await service.stop()
    async with dapp.sessions() as session:
        alerts = (
            await session.scalars(select(Delivery.kind).where(Delivery.kind == "alert"))
        ).all()
    assert alerts == ["alert"]  # the admin is told (the alert waits for the channel too)


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.05)


@dataclass
class _Composing:
    app: App
    memory: MemoryChannel
    composed: asyncio.Event  # set: composing goes on
    service: Any

    async def lease(self) -> tuple[str, Any]:
        async with self.app.sessions() as session:
            return (await session.execute(select(Delivery.state, Delivery.claimed_at))).one()


@asynccontextmanager
async def _one_row_being_composed(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                  chat_key: int) -> AsyncIterator[_Composing]:
    """A broadcast row claimed at T0 (30 s leases) whose composing waits for `composed`."""
    app = open_app(delivery_settings(db_url, delivery_claim_timeout_seconds=30))
    app.clock = lambda: T0
    memory = MemoryChannel()
    app.channels = {"memory": memory}
    composed = asyncio.Event()
    real_prepare = outbox.prepare

    async def slow_prepare(*args: Any) -> None:
        await composed.wait()
        await real_prepare(*args)

    monkeypatch.setattr(outbox, "prepare", slow_prepare)
    try:
        async with app.sessions() as session, session.begin():
            chat = await add_chat(session, chat_key, channel="memory")
        await enqueue(app, chat, ["một"], kind="broadcast", dedup_key=f"c{chat_key}", lane=BULK)
        service = await start_delivery(app)
        try:
            state = _Composing(app, memory, composed, service)
            await wait_for(lambda: _claimed(state.lease))  # and being composed
            yield state
        finally:
            await service.stop()
    finally:
        await app.close()


async def test_a_row_being_composed_keeps_its_lease(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Composing a big batch on a busy machine can outlast a lease: the sender renews the leases
    of the rows it is still composing, so they are not taken over and sent twice."""
    async with _one_row_being_composed(db_url, monkeypatch, 4002) as row:
        later = T0 + timedelta(seconds=60)  # the lease would have run out
        row.app.clock = lambda: later
        state, claimed_at = await wait_for(
            lambda: _renewed_or_lost(row.lease, later))  # maintenance has been round
        assert (state, claimed_at) == ("sending", later)
        row.composed.set()
        await wait_for(row.service.idle)
        assert row.memory.texts_for(4002) == ["một"]
        assert (await row.lease())[0] == "sent"


async def _claimed(lease: Any) -> bool:
    return bool((await lease())[0] == "sending")


async def _renewed_or_lost(lease: Any, at: Any) -> tuple[str, Any] | None:
    state, claimed_at = await lease()
    return (state, claimed_at) if state != "sending" or claimed_at == at else None


async def test_a_lease_renewed_late_on_a_stalled_machine_is_kept(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Maintenance renews this process's leases, then takes back expired ones. On a stalled
    machine the renewal can land after the lease would have run out: both steps read one
    instant, and a row this process is working on is never taken back from it."""
    ticks = [T0]

    def stalling_clock() -> Any:
        ticks[0] += timedelta(seconds=40)  # every read of the clock is a stall past the lease
        return ticks[0]

    async with _one_row_being_composed(db_url, monkeypatch, 4003) as row:
        row.app.clock = stalling_clock
        await wait_for(lambda: _renewed_after(row.lease, T0))  # maintenance has been round
        assert (await row.lease())[0] == "sending"  # not taken back to be sent a second time
        row.composed.set()
        await wait_for(row.service.idle)
        assert row.memory.texts_for(4003) == ["một"]


async def _renewed_after(lease: Any, at: Any) -> bool:
    state, claimed_at = await lease()
    return state != "sending" or (claimed_at is not None and claimed_at > at)


async def test_a_dead_senders_claim_is_taken_over(db_url: str) -> None:
    # The lease outlives any stall of a loaded machine; the dead sender's ran out long ago.
    app = open_app(delivery_settings(db_url, delivery_claim_timeout_seconds=60))
    memory = MemoryChannel()
    app.channels = {"memory": memory}
    try:
        async with app.sessions() as session, session.begin():
            chat = await add_chat(session, 4001, channel="memory")
        await enqueue(app, chat, ["một", "hai", "ba"], kind="broadcast", dedup_key="c1", lane=BULK)
        async with app.sessions() as session, session.begin():
            await session.execute(update(Delivery).values(
                state="sending", claimed_by="dead-sender", parts_sent=1,
                claimed_at=app.clock() - timedelta(seconds=600)))
        await run_until_idle(app)
        assert memory.texts_for(4001) == ["hai", "ba"]  # resumed after the confirmed part
        async with app.sessions() as session:
            assert await session.scalar(select(Delivery.state)) == "sent"
    finally:
        await app.close()
