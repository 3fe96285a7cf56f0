"""`bot.py deliver`: a send-only process: the digest schedule and the outbox senders, no chat.

`bot.py run` runs the same delivery service next to the chat channels and the poller; this
command is for draining the outbox by hand (`--until-idle`), a send-only standby, and the crash
test and the benchmark. It sends on a channel only while it holds that channel's lease, as `run`
does (services.leadership): one pacer per channel keeps the platform's limits for all processes
together. Beside a `run` that leads, it stands by; on SQLite it refuses to start beside one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cli import help_of
from config import ConfigError, Settings
from delivery.outbox import take_over_channel
from delivery.service import DeliveryService, start_delivery
from runtime import App, open_app, tune_collector
from services.leadership import Leadership
from storage.db import AlreadyRunning, single_instance
from storage.migrate import upgrade

if TYPE_CHECKING:  # imported when used: a channel's library loads only when its token is set
    from channels.telegram import TelegramChannel
    from channels.zalo import ZaloChannel

log = logging.getLogger(__name__)
IDLE_CHECK_SECONDS = 0.2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deliver = sub.add_parser("deliver", help=help_of("deliver"))
    deliver.add_argument("--until-idle", action="store_true",
                         help="exit once nothing due is left to send")
    deliver.set_defaults(func=_deliver)


def _deliver(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with single_instance(settings.database_url):
            upgrade(settings.database_url)
            tune_collector()
            return asyncio.run(serve(settings, until_idle=args.until_idle))
    except AlreadyRunning as exc:
        raise ConfigError(str(exc)) from None


async def _channels(app: App) -> list[TelegramChannel | ZaloChannel]:
    """The channels whose tokens are set, opened for sending (registered in `app.channels`, so
    sent on, only while this process leads them: `_lead`)."""
    settings = app.settings
    opened: list[TelegramChannel | ZaloChannel] = []
    if settings.telegram_bot_token and settings.telegram_bot_token.get_secret_value():
        from channels.telegram import TelegramChannel

        telegram = TelegramChannel(settings)
        await telegram.start()
        opened.append(telegram)
    if settings.zalo_bot_token and settings.zalo_bot_token.get_secret_value():
        from channels.zalo import ZaloChannel
        from channels.zalo_client import ZaloClient

        client = ZaloClient(settings.zalo_api_base_url, settings.zalo_bot_token.get_secret_value(),
                            timeout=settings.http_timeout_seconds)
        opened.append(ZaloChannel(settings, client))
    if not opened:
        raise ConfigError(
            "invalid configuration: deliver needs TELEGRAM_BOT_TOKEN or ZALO_BOT_TOKEN"
        )
    return opened


async def _lead(app: App, service: DeliveryService,
                channel: TelegramChannel | ZaloChannel) -> Leadership:
    """Send on `channel` whenever this process holds its lease, as `bot.py run` does."""
    name = channel.name

    async def start() -> Callable[[], Awaitable[None]]:
        await take_over_channel(app, name, service.owner)
        app.channels[name] = channel
        service.start_senders()

        async def stop() -> None:
            app.channels.pop(name, None)
            await service.stop_sender(name)
        return stop

    leader = Leadership(app, f"channel:{name}", service.owner, start)
    await leader.step()
    if not leader.leading:
        log.warning("%s: another instance leads it and sends its messages; this one stands by",
                    name)
    return leader


async def serve(settings: Settings, *, until_idle: bool = False) -> int:
    app = open_app(settings)
    opened: list[TelegramChannel | ZaloChannel] = []
    leaders: list[Leadership] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        opened = await _channels(app)
        service = await start_delivery(app)
        tasks: list[asyncio.Task[None]] = []
        try:
            for channel in opened:
                leaders.append(await _lead(app, service, channel))
                tasks.append(asyncio.create_task(leaders[-1].run(), name=f"lead-{channel.name}"))
            if until_idle:
                while not stop.is_set():
                    if await service.idle():
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), IDLE_CHECK_SECONDS)
            else:
                await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for leader in leaders:
                await leader.close()
            await service.stop()
    finally:
        for channel in opened:
            await channel.close()
        await app.close()
    return 0
