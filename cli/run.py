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
import sys

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from channels.console import run_console
from config import ConfigError, Settings
from delivery.service import start_delivery
from feeds.poller import start_polling
from runtime import open_app
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    run = sub.add_parser("run", help="run the bot (console channel when no token is set)")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"loa: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _has(secret: object) -> bool:
    return bool(secret and secret.get_secret_value())  # type: ignore[attr-defined]


async def serve(settings: Settings) -> None:
    app = open_app(settings)
    scheduler = AsyncIOScheduler(timezone=settings.tz)
    delivery = await start_delivery(app)
    stoppers = []
    try:
        if _has(settings.telegram_bot_token):
            from channels.telegram_app import start_telegram, stop_telegram

            handle = await start_telegram(app, pacer=delivery.pacer("telegram"))
            stoppers.append(lambda h=handle: stop_telegram(h))
        if _has(settings.zalo_bot_token):
            from channels.zalo_app import start_zalo, stop_zalo

            zalo = await start_zalo(app, pacer=delivery.pacer("zalo"))
            stoppers.append(lambda h=zalo: stop_zalo(h))
        scheduler.start()
        start_polling(app, scheduler)
        if stoppers:
            log.info("Loa is running on %s", ", ".join(sorted(app.channels)))
            await _until_signalled()
        else:
            log.info("no channel token set: opening the console channel")
            await run_console(app)
    finally:
        # Polling first, then delivery (in-flight sends still need their channels), then chat.
        if scheduler.running:
            scheduler.shutdown(wait=False)
        await delivery.stop()
        for stop in reversed(stoppers):
            await stop()
        await app.close()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
