"""`bot.py run`: the whole bot in one process.

Migrations first; then delivery (outbox senders, digest schedule), the chat channels whose tokens
are set (Telegram and Zalo together when both are), the web pages when WEB_ADDR is set, and the
poller. With no channel token the console channel opens instead, so anyone can try Loa offline:
then the screen is the conversation's (logs go to LOG_FILE, only warnings to stderr), and an
empty database gets the demo (services.demo).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pydantic import SecretStr

from channels.console import run_console
from cli import help_of
from config import ConfigError, Settings
from delivery.match import match_unmatched
from delivery.outbox import relay_reply, take_over_channel
from delivery.service import DeliveryService, start_delivery
from ingest.worker import start_polling
from logs import quiet_stderr
from model.channel import OutMessage
from runtime import App, open_app, tune_collector
from services.demo import end_demo, start_demo
from services.leadership import Leadership
from storage.db import AlreadyRunning, single_instance
from storage.migrate import upgrade
from web import ops, pages
from web.ops import Check
from web.server import Servers, Site, start_web

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help=help_of("run"))
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if not _channels(settings):
        quiet_stderr()  # the console's screen is the conversation's
    try:
        with single_instance(settings.database_url):
            upgrade(settings.database_url)
            log.info("database: %s", settings.database_shown())
            tune_collector()
            asyncio.run(serve(settings))
    except AlreadyRunning as exc:
        raise ConfigError(str(exc)) from None
    except KeyboardInterrupt:
        pass
    return 0


def _has(secret: SecretStr | None) -> bool:
    return bool(secret and secret.get_secret_value())


def _channels(settings: Settings) -> bool:
    """Whether a chat platform's token is set (else the console opens)."""
    return _has(settings.telegram_bot_token) or _has(settings.zalo_bot_token)


@dataclass
class Running:
    """Everything `start_services` started, stopped in the safe order by `stop()`."""

    app: App
    scheduler: AsyncIOScheduler
    delivery: DeliveryService
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # /healthz's checks besides the database: the scheduler and each channel started.
    checks: dict[str, Check] = field(default_factory=dict)
    web: Servers | None = None
    leaders: dict[str, Leadership] = field(default_factory=dict)

    async def stop(self) -> None:
        # The HTTP servers first (a stopping bot is no longer healthy), then polling, then
        # delivery (in-flight sends still need their channels), then chat.
        if self.web is not None:
            await self.web.stop()
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
        running.checks["scheduler"] = lambda: _scheduler_problem(scheduler)
        running.web = await start_web(
            [Site("METRICS_ADDR", settings.metrics_addr, ops.mount(app, running.checks)),
             Site("WEB_ADDR", settings.web_addr, pages.mount(app))])
    except BaseException:
        await running.stop()
        raise
    return running


async def _scheduler_problem(scheduler: AsyncIOScheduler) -> str | None:
    return None if scheduler.running else "the scheduler is not running"


# A started channel duty: how to stop it, and its /healthz check.
Duty = tuple[Callable[[], Awaitable[None]], Check]
Serve = Callable[[Running], Awaitable[Duty]]


async def _telegram(running: Running) -> Duty:
    from channels.telegram_app import start_telegram, stop_telegram

    handle = await start_telegram(running.app, pacer=running.delivery.pacer("telegram"))
    return lambda: stop_telegram(handle), handle.problem


async def _zalo(running: Running) -> Duty:
    from channels.zalo_app import start_zalo, stop_zalo

    handle = await start_zalo(running.app, pacer=running.delivery.pacer("zalo"))
    return lambda: stop_zalo(handle), handle.problem


async def _zalo_intake(running: Running) -> Duty:
    """Zalo by webhook on an instance that does not lead it: events are taken in here too (each
    once, by its id), and the replies go through the outbox to the leader's sender."""
    from channels.zalo_app import start_zalo, stop_zalo

    app = running.app

    async def relay(chat_key: str, _kind: str, message: OutMessage) -> None:
        await relay_reply(app, "zalo", chat_key, message)

    handle = await start_zalo(app, relay=relay)
    return lambda: stop_zalo(handle), handle.problem


async def _healthy() -> str | None:
    return None


async def _lead(running: Running, name: str, serve: Serve, standby: Serve | None = None) -> None:
    """Lead channel `name` whenever this instance holds its lease: take its updates and send
    on it (its replies and its outbox rows) through the one pacer. Meanwhile `standby`, if
    given, runs instead (a webhook's intake). The first round runs here, so a rejected token
    stops start-up; then the lease is renewed, or waited for, in a task. /healthz checks the
    duty that runs (standing by is healthy)."""
    delivery = running.delivery
    standing: list[Duty] = []  # the standby, while it runs
    current: list[Check] = [_healthy]

    async def check() -> str | None:
        return await current[-1]()

    async def stand_by() -> None:
        if standby is not None:
            standing.append(await standby(running))
            current.append(standing[-1][1])

    async def stand_down() -> None:
        while standing:
            stop_standby, _ = standing.pop()
            current[:] = [_healthy]
            await stop_standby()

    async def start() -> Callable[[], Awaitable[None]]:
        await stand_down()  # one intake per process (a webhook's port)
        await take_over_channel(running.app, name, delivery.owner)
        stop_channel, problem = await serve(running)
        current.append(problem)
        delivery.start_senders()

        async def stop() -> None:
            current[:] = [_healthy]
            try:
                await delivery.stop_sender(name)
            finally:  # whatever happens, this instance stops taking the channel's updates
                await stop_channel()
            if not closing:
                await stand_by()
        return stop

    closing = False
    leader = Leadership(running.app, f"channel:{name}", delivery.owner, start)
    await leader.step()
    if not leader.leading:
        log.info("%s: another instance leads it; this one stands by", name)
        await stand_by()
    task = asyncio.create_task(leader.run(), name=f"lead-{name}")
    running.leaders[name] = leader
    running.checks[name] = check

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
        # The web pages alone are no chat channel: without a token the console still opens.
        if _has(settings.telegram_bot_token) or _has(settings.zalo_bot_token):
            log.info("Loa is running (%s)", ", ".join(
                f"{name}: {'leading' if leader.leading else 'standing by'}"
                for name, leader in sorted(running.leaders.items())))
            await end_demo(running.app, "run")  # the demo is the console's
            await _until_signalled()
        else:
            log.info("no channel token set: opening the console channel")
            await console(running)
    finally:
        await running.stop()


async def console(running: Running, *, stdin: TextIO | None = None,
                  stdout: TextIO | None = None) -> None:
    """The console channel, with the demo when the database is empty (services.demo)."""
    demo = await start_demo(running.app)
    if demo is not None:
        running.stoppers.append(demo.stop)
    await run_console(running.app, stdin=stdin, stdout=stdout)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
