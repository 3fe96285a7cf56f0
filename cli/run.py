"""`bot.py run`: the whole bot in one process.

Migrations first; then delivery (outbox senders, digest schedule), the chat channels whose tokens
are set (Telegram and Zalo together when both are), and the poller. With no channel token the
console channel opens instead, so anyone can try Loa offline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr

from channels.console import run_console
from config import ConfigError, Settings
from delivery.match import match_unmatched
from delivery.outbox import relay_reply, take_over_channel
from delivery.service import DeliveryService, start_delivery
from ingest.worker import start_polling
from model.channel import OutMessage
from runtime import App, open_app
from services.leadership import Leadership
from storage.db import AlreadyRunning, single_instance
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the bot (console channel when no token is set)")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with single_instance(settings.database_url):
            upgrade(settings.database_url)
            asyncio.run(serve(settings))
    except AlreadyRunning as exc:
        raise ConfigError(str(exc)) from None
    except KeyboardInterrupt:
        pass
    return 0


def _has(secret: SecretStr | None) -> bool:
    return bool(secret and secret.get_secret_value())


@dataclass
class Running:
    """Everything `start_services` started, stopped in the safe order by `stop()`."""

    app: App
    scheduler: AsyncIOScheduler
    delivery: DeliveryService
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    leaders: dict[str, Leadership] = field(default_factory=dict)

    async def stop(self) -> None:
        # Polling first, then delivery (in-flight sends still need their channels), then chat.
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.delivery.stop()
        for stop in reversed(self.stoppers):
            await stop()
        await self.app.close()


async def start_services(settings: Settings) -> Running:
    """Delivery, every channel whose token is set, and the poller. Tests start the bot this way.

    Several instances may run on one PostgreSQL database: each chat channel is led by one of
    them at a time (services.leadership), sources and unmatched items are claimed, digests are
    idempotent (see README "Running several instances")."""
    app = open_app(settings)
    # One scheduler for the digest tick, delivery maintenance and polling.
    scheduler = AsyncIOScheduler(timezone=settings.tz)
    running = Running(app, scheduler, await start_delivery(app, scheduler))
    try:
        caught_up = await match_unmatched(app)
        if caught_up:
            log.info("start-up: matched %d items stored before the last stop", caught_up)
        if _has(settings.telegram_bot_token):
            await _lead(running, "telegram", _telegram)
        if _has(settings.zalo_bot_token):
            await _lead(running, "zalo", _zalo,
                        _zalo_intake if settings.zalo_mode == "webhook" else None)
        running.scheduler.start()
        start_polling(app, running.scheduler)
    except BaseException:
        await running.stop()
        raise
    return running


async def _telegram(running: Running) -> Callable[[], Awaitable[None]]:
    from channels.telegram_app import start_telegram, stop_telegram

    handle = await start_telegram(running.app, pacer=running.delivery.pacer("telegram"))
    return lambda: stop_telegram(handle)


async def _zalo(running: Running) -> Callable[[], Awaitable[None]]:
    from channels.zalo_app import start_zalo, stop_zalo

    handle = await start_zalo(running.app, pacer=running.delivery.pacer("zalo"))
    return lambda: stop_zalo(handle)


async def _zalo_intake(running: Running) -> Callable[[], Awaitable[None]]:
    """Zalo by webhook on an instance that does not lead it: events are taken in here too (each
    once, by its id), and the replies go through the outbox to the leader's sender."""
    from channels.zalo_app import start_zalo, stop_zalo

    app = running.app

    async def relay(chat_key: str, _kind: str, message: OutMessage) -> None:
        await relay_reply(app, "zalo", chat_key, message)

    handle = await start_zalo(app, relay=relay)
    return lambda: stop_zalo(handle)


Serve = Callable[[Running], Awaitable[Callable[[], Awaitable[None]]]]


async def _lead(running: Running, name: str, serve: Serve, standby: Serve | None = None) -> None:
    """Lead channel `name` whenever this instance holds its lease: take its updates and send
    on it (its replies and its outbox rows) through the one pacer. Meanwhile `standby`, if
    given, runs instead (a webhook's intake). The first round runs here, so a rejected token
    stops start-up; then the lease is renewed, or waited for, in a task."""
    delivery = running.delivery
    standing: list[Callable[[], Awaitable[None]]] = []  # the standby's stop, while it runs

    async def stand_down() -> None:
        while standing:
            await standing.pop()()

    async def start() -> Callable[[], Awaitable[None]]:
        await stand_down()  # one intake per process (a webhook's port)
        await take_over_channel(running.app, name, delivery.owner)
        stop_channel = await serve(running)
        delivery.start_senders()

        async def stop() -> None:
            try:
                await delivery.stop_sender(name)
            finally:  # whatever happens, this instance stops taking the channel's updates
                await stop_channel()
            if standby is not None and not closing:
                standing.append(await standby(running))
        return stop

    closing = False
    leader = Leadership(running.app, f"channel:{name}", delivery.owner, start)
    await leader.step()
    if not leader.leading:
        log.info("%s: another instance leads it; this one stands by", name)
        if standby is not None:
            standing.append(await standby(running))
    task = asyncio.create_task(leader.run(), name=f"lead-{name}")
    running.leaders[name] = leader

    async def stop() -> None:
        nonlocal closing
        closing = True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await leader.close()
        await stand_down()
    running.stoppers.append(stop)


async def serve(settings: Settings) -> None:
    running = await start_services(settings)
    try:
        if running.stoppers:
            log.info("Loa is running (%s)", ", ".join(
                f"{name}: {'leading' if leader.leading else 'standing by'}"
                for name, leader in sorted(running.leaders.items())))
            await _until_signalled()
        else:
            log.info("no channel token set: opening the console channel")
            await run_console(running.app)
    finally:
        await running.stop()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
