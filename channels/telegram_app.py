"""Telegram: python-telegram-bot's `Application` takes updates by long polling and hands them to
`TelegramInbound` (channels/telegram_updates.py), which turns them into `Incoming` for the
shared inbound runner (channels/inbound.py); the replies go back through the `TelegramChannel`.

- Updates are handled concurrently (PTB), one chat's in order (the runner).
- Replies take the interactive lane of the channel's pacer when one is given (the sender's), so
  replies and deliveries share one set of rate limits.
- A failure outside the handlers (PTB's error handler) is logged with its context (update, chat,
  user, command; never the token), the person gets an apology, and the bot keeps running.

`bot.py run` calls `start_telegram(app, pacer=...)` and, on the way out, `stop_telegram(handle)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from channels.inbound import Dispatch, first_word
from channels.telegram import (
    BAD_URL,
    NAME,
    TelegramChannel,
    is_bad_url,
    requests,
)
from channels.telegram_updates import TelegramInbound, chat_kind
from config import ConfigError, Settings
from delivery.alerts import Alert, alert_admins
from delivery.chats import chat_lang
from delivery.pacing import Pacer
from model.channel import OutMessage
from render.texts import t
from runtime import App
from services.users import staff_roles

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 30  # seconds a getUpdates call waits for news
MAX_CONCURRENT = 64  # updates handled at once (of different chats)
STARTUP_BACKOFF_MAX = 60.0
HEALTH_TTL_SECONDS = 30.0  # how long /healthz trusts the last getMe

# PTB's Application has six type parameters (bot, context, user/chat/bot data, job queue);
# Loa keeps PTB's defaults and reads none of them.
PTBApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(settings: Settings) -> PTBApplication:
    """PTB's Application on our base URLs and HTTP clients (`requests`), with no job queue (Loa's
    jobs run on its own APScheduler), no rate limiter (the sender paces) and concurrent updates
    (ordered per chat by the inbound runner)."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise ConfigError("invalid setting TELEGRAM_BOT_TOKEN: it is not set")
    calls, updates = requests()
    return (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .request(calls)
        .get_updates_request(updates)
        .concurrent_updates(MAX_CONCURRENT)
        .job_queue(None)
        .build()
    )


def install(application: PTBApplication, inbound: TelegramInbound) -> None:
    application.add_handler(TypeHandler(Update, inbound.on_update))

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        await _on_error(inbound, update, context)

    application.add_error_handler(on_error)


async def _on_error(
    inbound: TelegramInbound, update: object, context: ContextTypes.DEFAULT_TYPE
) -> None:
    """PTB's error handler: log the failure with its context, apologise, carry on."""
    error = context.error
    if not isinstance(update, Update):
        if isinstance(error, TelegramError):  # polling hiccups: PTB retries by itself
            log.warning("Telegram polling problem: %s", error.message)
        else:
            log.error("Telegram error outside an update: %s", error, exc_info=error)
        return
    chat = update.effective_chat
    user = update.effective_user
    query = update.callback_query
    what = (
        query.data
        if query is not None
        else first_word(
            (update.effective_message.text or update.effective_message.caption or "")
            if update.effective_message
            else ""
        )
    )
    log.error(
        "handler failed: update %s, chat %s, user %s, %s %r",
        update.update_id,
        chat.id if chat else "-",
        user.id if user else "-",
        "button" if query is not None else "command",
        what,
        exc_info=error,
    )
    if chat is None:
        return
    lang = await chat_lang(inbound.app, NAME, str(chat.id))
    apology = t(lang, "error_internal")
    if query is not None:
        await inbound.channel.answer_button(query.id, "")
    await inbound.runner.reply(str(chat.id), chat_kind(chat.type), OutMessage(text=apology))


# --- Command menus ---------------------------------------------------------------------------


async def register_commands(app: App, channel: TelegramChannel) -> None:
    """Citizens' commands for everyone; officials and admins (from ADMIN_IDS and granted in the
    database) also get theirs, in their private chats."""
    await channel.set_menu("citizen")
    for user_key, role in (await staff_roles(app, NAME)).items():
        await channel.set_menu(role, user_key)


# --- Start and stop --------------------------------------------------------------------------


@dataclass
class TelegramHandle:
    """What `start_telegram` started; give it back to `stop_telegram`."""

    app: App
    application: PTBApplication
    channel: TelegramChannel
    inbound: TelegramInbound
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _checked: tuple[float, str | None] = field(default=(-HEALTH_TTL_SECONDS, None), init=False)

    async def problem(self) -> str | None:
        """Why Telegram is not connected (for /healthz), or None: polling must have started and
        getMe answer; the answer is kept HEALTH_TTL_SECONDS, so frequent probes cost no calls."""
        updater = self.application.updater
        if updater is None or not updater.running:
            return "Telegram is not polling yet (unreachable since start-up?)"
        at, problem = self._checked
        if time.monotonic() - at < HEALTH_TTL_SECONDS:
            return problem
        try:
            await self.channel.bot.get_me()
            problem = None
        except InvalidToken:
            problem = "Telegram rejects the bot token"
        except TelegramError as exc:
            problem = f"Telegram getMe failed: {type(exc).__name__}"
        self._checked = (time.monotonic(), problem)
        return problem


async def start_telegram(
    app: App, *, pacer: Pacer | None = None, dispatch: Dispatch | None = None
) -> TelegramHandle:
    """Serve Telegram: register the channel as `app.channels["telegram"]`, set the command menus
    and poll for updates. A rejected token stops start-up (ConfigError); an unreachable Telegram
    is retried in the background."""
    application = build_application(app.settings)
    channel = TelegramChannel(app.settings, bot=application.bot)
    inbound = TelegramInbound(app, channel, pacer=pacer, dispatch=dispatch)
    install(application, inbound)
    handle = TelegramHandle(app, application, channel, inbound)
    try:
        await application.initialize()
    except InvalidToken:
        raise ConfigError("invalid setting TELEGRAM_BOT_TOKEN: Telegram rejected it") from None
    except NetworkError as exc:
        if is_bad_url(exc):
            raise ConfigError(BAD_URL) from None
        log.warning("Telegram is not reachable yet, will keep trying: %s", exc.message)
        app.channels[NAME] = channel
        handle.tasks.append(asyncio.create_task(_start_when_reachable(handle)))
        return handle
    app.channels[NAME] = channel
    await _start_polling(handle)
    return handle


async def _start_polling(handle: TelegramHandle) -> None:
    log.info("Telegram bot @%s is ready", handle.channel.bot.username)
    await register_commands(handle.app, handle.channel)
    await handle.application.start()
    assert handle.application.updater is not None
    await handle.application.updater.start_polling(
        timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
    )


async def _start_when_reachable(handle: TelegramHandle) -> None:
    delay = 1.0
    while True:
        await asyncio.sleep(delay)
        try:
            await handle.application.initialize()
        except InvalidToken:
            log.error("Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN")
            await alert_admins(handle.app, Alert.TOKEN_REJECTED, channel="telegram",
                               detail="InvalidToken: check TELEGRAM_BOT_TOKEN")
            return
        except NetworkError as exc:
            log.warning("Telegram still not reachable, retrying in %.0f s: %s", delay, exc.message)
            delay = min(delay * 2, STARTUP_BACKOFF_MAX)
            continue
        await _start_polling(handle)
        return


async def stop_telegram(handle: TelegramHandle) -> None:
    """Stop polling, let the updates in hand finish, and close the connections."""
    for task in handle.tasks:
        task.cancel()
    await asyncio.gather(*handle.tasks, return_exceptions=True)
    application = handle.application
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
    if handle.app.channels.get(NAME) is handle.channel:
        del handle.app.channels[NAME]
