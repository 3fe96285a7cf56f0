"""The lease and claim primitives several instances share the work by (storage.leases), on
SQLite and PostgreSQL; on PostgreSQL also under real concurrency, two connections at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.deliver import serve as serve_deliveries
from delivery import outbox
from delivery.digests import DigestScheduler
from delivery.match import match_unmatched
from model.enums import DeliveryKind
from runtime import App, open_app
from services.leadership import Leadership, Start, finish_update, take_update
from storage import leases
from storage.dialect import lock_for_write
from storage.models import Delivery, Source
from tests.conftest import count_rows, make_settings
from tests.delivery_support import add_chat, add_item, add_source, add_sub
from tests.fakes.clock import FakeClock
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


async def _take(app: App, name: str, holder: str, now: datetime, seconds: float = 10) -> bool:
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        return await leases.take_lease(session, name, holder, now, now + timedelta(seconds=seconds))


async def _holder(app: App, name: str, now: datetime) -> str | None:
    async with app.sessions() as session:
        return await leases.lease_holder(session, name, now)


async def test_a_lease_is_held_by_one_until_it_expires_then_taken_over(app: App) -> None:
    assert await _take(app, "channel:telegram", "a", T0)
    assert not await _take(app, "channel:telegram", "b", T0 + timedelta(seconds=5))
    assert await _take(app, "channel:telegram", "a", T0 + timedelta(seconds=5))  # renewed
    assert not await _take(app, "channel:telegram", "b", T0 + timedelta(seconds=14))
    assert await _holder(app, "channel:telegram", T0 + timedelta(seconds=14)) == "a"
    # a stops renewing: expired at 15 s, b takes it, and a can't renew any more.
    assert await _take(app, "channel:telegram", "b", T0 + timedelta(seconds=15))
    assert not await _take(app, "channel:telegram", "a", T0 + timedelta(seconds=16))
    assert await _holder(app, "channel:telegram", T0 + timedelta(seconds=16)) == "b"
    assert await _take(app, "channel:zalo", "a", T0 + timedelta(seconds=16))  # another name


async def test_a_dropped_lease_is_free_at_once(app: App) -> None:
    assert await _take(app, "x", "a", T0)
    async with app.sessions() as session, session.begin():
        await leases.drop_lease(session, "x", "b")  # not b's: nothing happens
    assert not await _take(app, "x", "b", T0)
    async with app.sessions() as session, session.begin():
        await leases.drop_lease(session, "x", "a")
    assert await _take(app, "x", "b", T0)


async def test_two_takers_at_once_one_wins(db_url: str) -> None:
    """Many instances race for a free lease, then for the expired one: one wins each time."""
    apps = [open_app(make_settings(db_url)) for _ in range(6)]
    try:
        for now in (T0, T0 + timedelta(seconds=60)):
            won = await asyncio.gather(*(_take(a, "race", f"i{n}", now)
                                         for n, a in enumerate(apps)))
            assert sum(won) == 1, won
    finally:
        for a in apps:
            await a.close()


async def test_an_update_is_taken_once_and_again_only_if_never_done(app: App) -> None:
    clock = FakeClock(T0)
    app.clock = clock
    assert await take_update(app, "telegram", "101")
    assert not await take_update(app, "telegram", "101")  # another instance, or a redelivery
    assert await take_update(app, "zalo", "101")  # keys are per channel
    clock.advance(seconds=app.settings.leader_lease_seconds + 1)
    assert await take_update(app, "telegram", "101")  # taken, never done: its taker died
    await finish_update(app, "telegram", "101")
    clock.advance(seconds=app.settings.leader_lease_seconds + 1)
    assert not await take_update(app, "telegram", "101")  # done: never again
    async with app.sessions() as session, session.begin():
        assert await leases.prune_updates(session, clock() - timedelta(seconds=1)) == 2


async def test_updates_taken_concurrently_go_to_one_taker_each(db_url: str) -> None:
    apps = [open_app(make_settings(db_url)) for _ in range(4)]
    try:
        taken = await asyncio.gather(*(take_update(a, "zalo", f"m{k}")
                                       for k in range(20) for a in apps))
        assert sum(taken) == 20
    finally:
        for a in apps:
            await a.close()


async def test_due_sources_are_claimed_once_until_released_or_expired(app: App) -> None:
    async with app.sessions() as session, session.begin():
        ids = [await add_source(session) for _ in range(3)]
        await session.execute(Source.__table__.update().where(Source.id == ids[2])
                              .values(next_check_at=T0 + timedelta(hours=1)))

    async def claim(owner: str, now: datetime) -> list[int]:
        async with app.sessions() as session, session.begin():
            await lock_for_write(session)
            rows = await leases.claim_due_sources(session, owner, now,
                                                  now + timedelta(seconds=60))
            return [r.id for r in rows]

    assert sorted(await claim("a", T0)) == ids[:2]  # the third is not due
    assert await claim("b", T0 + timedelta(seconds=30)) == []  # a holds them
    async with app.sessions() as session, session.begin():
        await leases.release_sources(session, [ids[0]], "b")  # not b's
        await leases.release_sources(session, [ids[0]], "a")
    assert await claim("b", T0 + timedelta(seconds=30)) == [ids[0]]
    # a died polling the second: its claim runs out and another takes it.
    assert await claim("c", T0 + timedelta(seconds=61)) == [ids[1]]


async def test_concurrent_pollers_split_the_due_sources(db_url: str) -> None:
    apps = [open_app(make_settings(db_url)) for _ in range(4)]
    try:
        async with apps[0].sessions() as session, session.begin():
            ids = [await add_source(session) for _ in range(40)]

        async def claim(a: App, owner: str) -> list[int]:
            async with a.sessions() as session, session.begin():
                await lock_for_write(session)
                rows = await leases.claim_due_sources(session, owner, T0,
                                                      T0 + timedelta(seconds=60))
                return [r.id for r in rows]

        claimed = await asyncio.gather(*(claim(a, f"p{n}") for n, a in enumerate(apps)))
        flat = [i for part in claimed for i in part]
        assert sorted(flat) == sorted(ids)  # each source to exactly one poller
    finally:
        for a in apps:
            await a.close()


async def test_catch_up_in_several_instances_queues_each_message_once(db_url: str) -> None:
    """Start-up catch-up run by three instances at once: each item matched once, one instant
    message per chat; the digest tick run by all of them: one digest per chat."""
    apps = [open_app(make_settings(db_url)) for _ in range(3)]
    try:
        async with apps[0].sessions() as session, session.begin():
            src = await add_source(session)
            for n in range(30):
                await add_item(session, src, f"Tin Huế số {n}", provinces=["46"])
            for n in range(10):
                chat = await add_chat(session, 9000 + n)
                await add_sub(session, chat, provinces=["46"])
                await add_sub(session, chat, provinces=["46"], mode="daily", hour=7,
                              created_at=T0 - timedelta(days=3))
        matched = await asyncio.gather(*(match_unmatched(a) for a in apps))
        assert sum(matched) >= 30
        assert await count_rows(apps[0], Delivery, Delivery.kind == "instant") == 10
        for a in apps:
            a.clock = FakeClock(T0)
        await asyncio.gather(*(DigestScheduler(a).tick() for a in apps))
        await asyncio.gather(*(DigestScheduler(a).tick() for a in apps))  # a restart
        assert await count_rows(apps[0], Delivery, Delivery.kind == "digest") == 10
        async with apps[0].sessions() as session:
            keys = (await session.scalars(select(Delivery.dedup_key))).all()
        assert len(keys) == len(set(keys)) == 20
    finally:
        for a in apps:
            await a.close()


async def test_leadership_starts_the_duty_with_the_lease_and_stops_it_without(app: App) -> None:
    clock = FakeClock(T0)
    app.clock = clock
    events: list[str] = []

    def duty(name: str) -> Start:
        async def start() -> Callable[[], Awaitable[None]]:
            events.append(f"{name} starts")

            async def stop() -> None:
                events.append(f"{name} stops")
            return stop
        return start

    first = Leadership(app, "channel:x", "first", duty("first"))
    second = Leadership(app, "channel:x", "second", duty("second"))
    await first.step()
    await second.step()
    assert (first.leading, second.leading) == (True, False)
    clock.advance(seconds=app.settings.leader_lease_seconds + 1)  # first stopped renewing
    await second.step()
    await first.step()
    assert (first.leading, second.leading) == (False, True)
    await second.close()  # a clean stop hands over at once
    await first.step()
    assert first.leading
    await first.close()
    assert events == ["first starts", "second starts", "first stops", "second stops",
                      "first starts", "first stops"]


@pytest.mark.parametrize("command", ["run", "deliver"])
def test_a_second_instance_on_one_sqlite_file_refuses_to_start(
    tmp_path: Path, command: str
) -> None:
    db = tmp_path / "loa.db"
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{db}", "LOG_FILE": ""}
    # The first holds the lock as `bot.py run` does; the second is a real `bot.py run` or
    # `bot.py deliver` (which would send beside it, the limits broken).
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from storage.db import single_instance\n"
         f"with single_instance({str(env['DATABASE_URL'])!r}):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        second = subprocess.run([sys.executable, str(ROOT / "bot.py"), command], cwd=tmp_path,
                                env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        holder.communicate(b"", timeout=30)
    lines = second.stderr.decode().strip().splitlines()
    assert second.returncode == 2
    assert len(lines) == 1 and "another Loa instance is already running" in lines[0], lines


async def test_deliver_sends_on_a_channel_only_while_it_holds_its_lease(
    db_url: str, fake_telegram: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """`bot.py deliver` beside a `bot.py run` that leads Telegram stands by: one pacer per
    channel keeps the limits for all processes. It sends once the lease is free."""
    settings = make_settings(db_url, **fake_telegram.settings_overrides(),
                             leader_lease_seconds=1.5, delivery_poll_seconds=0.05)
    app = open_app(settings)
    try:
        async with app.sessions() as session, session.begin():
            chat_id = await add_chat(session, 4242)
        assert await outbox.enqueue(app, chat_id, ["Tin mới"], kind=DeliveryKind.BROADCAST,
                                    dedup_key="lease-test")
        now = datetime.now(UTC)
        assert await _take(app, "channel:telegram", "a run instance", now, seconds=3600)

        caplog.set_level("INFO", logger="cli.deliver")
        deliver = asyncio.create_task(serve_deliveries(settings, until_idle=True))
        await wait_for(lambda: "this one stands by" in caplog.text or deliver.done())
        assert not deliver.done() and fake_telegram.sent == []

        async with app.sessions() as session, session.begin():
            await leases.drop_lease(session, "channel:telegram", "a run instance")
        assert await asyncio.wait_for(deliver, 60) == 0
        assert [s.plain for s in fake_telegram.sent] == ["Tin mới"]
    finally:
        await app.close()
