"""`bot.py deliver`: a send-only process: the digest schedule and the outbox senders, no chat.

`bot.py run` runs the same delivery service next to the chat channels and the poller; this
command is for a second sending process (PostgreSQL lets several claim rows side by side), for
draining the outbox by hand (`--until-idle`), and for the crash test and the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from config import ConfigError, Settings
from delivery.service import start_delivery
from runtime import App, open_app
from storage.migrate import upgrade

if TYPE_CHECKING:  # imported when used: a channel's library loads only when its token is set
    from channels.telegram import TelegramChannel
    from channels.zalo import ZaloChannel

log = logging.getLogger(__name__)
IDLE_CHECK_SECONDS = 0.2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deliver = sub.add_parser("deliver", help="send due digests and queued messages (no chat)")
    deliver.add_argument("--until-idle", action="store_true",
                         help="exit once nothing due is left to send")
    deliver.set_defaults(func=_deliver)


def _deliver(args: argparse.Namespace, settings: Settings) -> int:
    upgrade(settings.database_url)
    return asyncio.run(serve(settings, until_idle=args.until_idle))


async def _channels(app: App) -> list[TelegramChannel | ZaloChannel]:
    """The channels whose tokens are set, opened for sending."""
    settings = app.settings
    opened: list[TelegramChannel | ZaloChannel] = []
    if settings.telegram_bot_token and settings.telegram_bot_token.get_secret_value():
        from channels.telegram import TelegramChannel

        telegram = TelegramChannel(settings)
        await telegram.start()
        app.channels[telegram.name] = telegram
        opened.append(telegram)
    if settings.zalo_bot_token and settings.zalo_bot_token.get_secret_value():
        from channels.zalo import ZaloChannel
        from channels.zalo_client import ZaloClient

        client = ZaloClient(settings.zalo_api_base_url, settings.zalo_bot_token.get_secret_value(),
                            timeout=settings.http_timeout_seconds)
        zalo = ZaloChannel(settings, client)
        app.channels[zalo.name] = zalo
        opened.append(zalo)
    if not opened:
        raise ConfigError(
            "invalid configuration: deliver needs TELEGRAM_BOT_TOKEN or ZALO_BOT_TOKEN"
        )
    return opened


async def serve(settings: Settings, *, until_idle: bool = False) -> int:
    app = open_app(settings)
    opened: list[TelegramChannel | ZaloChannel] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        opened = await _channels(app)
        service = await start_delivery(app)
        try:
            if until_idle:
                while not stop.is_set():
                    if await service.idle():
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), IDLE_CHECK_SECONDS)
            else:
                await stop.wait()
        finally:
            await service.stop()
    finally:
        for channel in opened:
            await channel.close()
        await app.close()
    return 0
