"""Telegram inbound: python-telegram-bot's `Application` takes updates by long polling, they go to
the handlers as `Incoming`, and the replies go back through the `TelegramChannel`.

- Messages, commands, documents (an OPML for /import), button presses, channel posts, the bot
  being added to or removed from a chat, and group → supergroup migrations are understood; in
  groups only commands (and replies to the bot) are read, and `/cmd@otherbot` is left alone.
- Updates of one chat are handled in order, different chats concurrently.
- Every command and button press counts against the person's flood limit (handlers/flood.py).
- Replies take the interactive lane of the channel's pacer when one is given (the sender's), so
  replies and deliveries share one set of rate limits; "retry after", outages, a migrated group
  and a gone chat are handled like the sender does.
- A handler that fails is logged with its context (update, chat, user, command; never the
  token), the person gets an apology, and the bot keeps running.

`bot.py run` calls `start_telegram(app, pacer=...)` and, on the way out, `stop_telegram(handle)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from telegram import (
    CallbackQuery,
    ChatMember,
    ChatMemberUpdated,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from channels.base import OutMessage
from channels.replies import chat_lang, find_chat, send_reply
from channels.telegram import (
    BAD_URL,
    MAX_CALLBACK_BYTES,
    NAME,
    POOL_SIZE,
    POOL_TIMEOUT,
    REQUEST_TIMEOUT,
    TelegramChannel,
    is_bad_url,
)
from config import ConfigError, Settings
from delivery.alerts import alert_admins
from delivery.pacing import Pacer
from handlers.flood import FloodLimiter, Verdict
from handlers.types import Incoming, Result
from render.texts import t
from runtime import App
from services.chats import mark_chat_inactive, migrate_chat
from storage.models import User

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 30  # seconds a getUpdates call waits for news
MAX_CONCURRENT = 64  # updates handled at once (of different chats)
TYPING_AFTER = 1.0  # show "typing…" when a command takes longer than this
ADMIN_CACHE_SECONDS = 60.0
STARTUP_BACKOFF_MAX = 60.0
ANONYMOUS_ADMIN_ID = 1087968824  # Telegram's GroupAnonymousBot: a group admin posting anonymously
_CHAT_KINDS = {
    ChatType.PRIVATE: "private",
    ChatType.GROUP: "group",
    ChatType.SUPERGROUP: "group",
    ChatType.CHANNEL: "channel",
}

Dispatch = Callable[[App, Incoming], Awaitable[Result]]


async def _router_dispatch(app: App, incoming: Incoming) -> Result:
    from handlers import router  # imported when used: the router imports every handler

    return await router.dispatch(app, incoming)


def build_application(settings: Settings) -> Application:
    """PTB's Application on our base URLs, with a job queue, no rate limiter (the sender paces)
    and concurrent updates (ordered per chat by TelegramInbound)."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise ConfigError("invalid setting TELEGRAM_BOT_TOKEN: it is not set")
    return (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .connection_pool_size(POOL_SIZE)
        .pool_timeout(POOL_TIMEOUT)
        .read_timeout(REQUEST_TIMEOUT)
        .write_timeout(REQUEST_TIMEOUT)
        .connect_timeout(REQUEST_TIMEOUT)
        .media_write_timeout(REQUEST_TIMEOUT * 3)
        .concurrent_updates(MAX_CONCURRENT)
        .build()
    )


def chat_kind(chat_type: str) -> str:
    return _CHAT_KINDS.get(chat_type, "private")  # type: ignore[call-overload]


def _first_word(text: str) -> str:
    return text.split(maxsplit=1)[0][:64] if text.strip() else ""


class _ChatLocks:
    """One lock per chat while it has updates in hand, so one chat's updates run in order."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, chat_key: str, work: Callable[[], Awaitable[None]]) -> None:
        lock, users = self._locks.get(chat_key, (asyncio.Lock(), 0))
        self._locks[chat_key] = (lock, users + 1)
        try:
            async with lock:
                await work()
        finally:
            lock, users = self._locks[chat_key]
            if users == 1:
                del self._locks[chat_key]
            else:
                self._locks[chat_key] = (lock, users - 1)


class TelegramInbound:
    """Turns updates into `Incoming`, runs them through the handlers, and sends the replies."""

    def __init__(
        self,
        app: App,
        channel: TelegramChannel,
        *,
        pacer: Pacer | None = None,
        dispatch: Dispatch | None = None,
    ) -> None:
        self.app = app
        self.channel = channel
        self.pacer = pacer
        self.dispatch = dispatch or _router_dispatch
        self.flood = FloodLimiter(app.settings.command_flood_per_minute)
        self.max_file_bytes = app.settings.http_max_bytes
        self._locks = _ChatLocks()
        self._admins: dict[tuple[int, int], tuple[bool, float]] = {}

    def install(self, application: Application) -> None:
        application.add_handler(TypeHandler(Update, self.on_update))
        application.add_error_handler(self.on_error)

    @property
    def username(self) -> str:
        return self.channel.bot.username or ""

    # --- Updates -----------------------------------------------------------------------------

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await self._on_callback(update.callback_query)
        elif update.my_chat_member is not None:
            await self._on_membership(update.my_chat_member)
        elif (message := update.message or update.channel_post) is not None:
            await self._on_message(message)

    async def _on_message(self, message: Message) -> None:
        chat_key = str(message.chat.id)
        if message.migrate_to_chat_id:
            await migrate_chat(self.app, NAME, chat_key, str(message.migrate_to_chat_id))
            return
        if message.migrate_from_chat_id:  # the same move, seen from the new supergroup
            await migrate_chat(self.app, NAME, str(message.migrate_from_chat_id), chat_key)
            return
        text = self._addressed_text(message)
        if text is None:
            return
        incoming = Incoming(
            channel=NAME,
            chat_key=chat_key,
            user_key=self._sender_key(message),
            text=text,
            chat_kind=chat_kind(message.chat.type),
            chat_title=message.chat.title or "",
            user_name=message.from_user.full_name if message.from_user else "",
            language_code=message.from_user.language_code if message.from_user else None,
        )
        await self._handle(incoming, message=message)

    def _addressed_text(self, message: Message) -> str | None:
        """The text the handlers should read, or None when the message is not for us."""
        if (
            message.from_user is not None
            and message.from_user.is_bot
            and message.from_user.id != ANONYMOUS_ADMIN_ID
        ):
            return None
        text = message.text or message.caption or ""
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            name, _, target = command.partition("@")
            if target and target.lower() != self.username.lower():
                return None  # /cmd@otherbot
            text = (name + text[len(command) :]).strip()
        elif message.chat.type != ChatType.PRIVATE:
            replied = message.reply_to_message
            to_us = (
                replied is not None
                and replied.from_user is not None
                and replied.from_user.id == self.channel.bot.id
            )
            if not to_us:
                return None  # group chatter is not for the bot
        if not text and message.document is None:
            return None  # stickers, photos, service messages
        return text

    @staticmethod
    def _sender_key(message: Message) -> str:
        if message.from_user is not None and message.from_user.id != ANONYMOUS_ADMIN_ID:
            return str(message.from_user.id)
        # A channel post or an anonymous group admin: the chat speaks for itself.
        return str((message.sender_chat or message.chat).id)

    async def _on_callback(self, query: CallbackQuery) -> None:
        message = query.message
        if message is None:  # a button on an inline-mode message: not one of ours
            await self.channel.answer_button(query.id)
            return
        data = query.data
        if not data or len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
            log.info("button press with unusable data ignored (chat %s)", message.chat.id)
            await self.channel.answer_button(query.id)
            return
        incoming = Incoming(
            channel=NAME,
            chat_key=str(message.chat.id),
            user_key=str(query.from_user.id),
            chat_kind=chat_kind(message.chat.type),
            chat_title=message.chat.title or "",
            user_name=query.from_user.full_name,
            callback_data=data,
            callback_id=query.id,
            message_id=str(message.message_id),
            language_code=query.from_user.language_code,
        )
        await self._handle(incoming)

    async def _on_membership(self, change: ChatMemberUpdated) -> None:
        """The bot was added to or removed from a chat, or a person blocked or unblocked it."""
        old, new = change.old_chat_member.status, change.new_chat_member.status
        chat_key = str(change.chat.id)
        if new in (ChatMember.LEFT, ChatMember.BANNED):
            reason = (
                "blocked by the user"
                if change.chat.type == ChatType.PRIVATE
                else "the bot was removed from the chat"
            )
            await self._chat_gone(chat_key, reason)
            return
        joined = old in (ChatMember.LEFT, ChatMember.BANNED)
        if joined and change.chat.type != ChatType.PRIVATE:
            # Added to a group or channel: greet it as if whoever added the bot typed /start.
            await self._handle(
                Incoming(
                    channel=NAME,
                    chat_key=chat_key,
                    user_key=str(change.from_user.id),
                    text="/start",
                    chat_kind=chat_kind(change.chat.type),
                    chat_title=change.chat.title or "",
                    user_name=change.from_user.full_name,
                    language_code=change.from_user.language_code,
                )
            )

    # --- Handling ----------------------------------------------------------------------------

    async def _handle(self, incoming: Incoming, message: Message | None = None) -> None:
        verdict = self.flood.check(f"{NAME}:{incoming.user_key}")  # counted in arrival order

        async def work() -> None:
            if verdict is not Verdict.ALLOW:
                await self._refuse_flood(incoming, verdict)
                return
            incoming.sender_is_chat_admin = await self._is_chat_admin(incoming)
            has_file = message is not None and message.document is not None
            if has_file and not await self._attach_document(incoming, message):  # type: ignore[arg-type]
                return
            result = await self._dispatch(incoming)
            if incoming.callback_id is not None:
                await self.channel.answer_button(incoming.callback_id, result.button_answer or "")
            for reply in result.messages:
                await self.reply(incoming.chat_key, incoming.chat_kind, reply)

        await self._locks(incoming.chat_key, work)

    async def _refuse_flood(self, incoming: Incoming, verdict: Verdict) -> None:
        log.info(
            "flood limit: %s from user %s in chat %s",
            verdict.value,
            incoming.user_key,
            incoming.chat_key,
        )
        text = (
            t(await chat_lang(self.app, NAME, incoming.chat_key), "flood_limited")
            if verdict is Verdict.WARN
            else ""
        )
        if incoming.callback_id is not None:
            await self.channel.answer_button(incoming.callback_id, text)
        elif text:
            await self.reply(incoming.chat_key, incoming.chat_kind, OutMessage(text=text))

    async def _attach_document(self, incoming: Incoming, message: Message) -> bool:
        """Download the file into `incoming.document`; a file too big gets a polite line."""
        document = message.document
        assert document is not None
        if document.file_size is not None and document.file_size > self.max_file_bytes:
            lang = await chat_lang(self.app, NAME, incoming.chat_key)
            await self.reply(
                incoming.chat_key,
                incoming.chat_kind,
                OutMessage(
                    text=t(lang, "file_too_big", limit_mb=max(1, self.max_file_bytes // 1_000_000))
                ),
            )
            return False
        content = await self.channel.download(document.file_id)
        incoming.document = (document.file_name or "file", content)
        return True

    async def _is_chat_admin(self, incoming: Incoming) -> bool:
        """Whether the sender may set up this chat: always in a private chat, for a channel's own
        posts and an anonymous group admin; otherwise when Telegram lists them as creator or
        administrator of the group or channel."""
        if incoming.chat_kind == "private" or incoming.user_key == incoming.chat_key:
            return True
        key = (int(incoming.chat_key), int(incoming.user_key))
        cached = self._admins.get(key)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await self.channel.bot.get_chat_member(*key)
        except TelegramError as exc:
            log.info("could not check admin rights in chat %s: %s", incoming.chat_key, exc.message)
            return False
        is_admin = member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
        if len(self._admins) > 10_000:
            self._admins.clear()
        self._admins[key] = (is_admin, now + ADMIN_CACHE_SECONDS)
        return is_admin

    async def _dispatch(self, incoming: Incoming) -> Result:
        task = asyncio.create_task(self.dispatch(self.app, incoming))
        done, _ = await asyncio.wait({task}, timeout=TYPING_AFTER)
        if not done and incoming.callback_id is None:
            await self.channel.typing(incoming.chat_key)
        return await task

    async def reply(self, chat_key: str, kind: str, message: OutMessage) -> None:
        await send_reply(self.app, self.channel, self.pacer, chat_key, kind, message)

    async def _chat_gone(self, chat_key: str, reason: str) -> None:
        chat = await find_chat(self.app, NAME, chat_key)
        if chat is not None and chat.active:
            await mark_chat_inactive(self.app, chat.id, reason)

    # --- Failures ----------------------------------------------------------------------------

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
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
            else _first_word(
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
        lang = await chat_lang(self.app, NAME, str(chat.id))
        apology = t(lang, "error_internal")
        if query is not None:
            await self.channel.answer_button(query.id, "")
        await self.channel.send(
            str(chat.id), OutMessage(text=apology), chat_kind=chat_kind(chat.type)
        )


# --- Command menus ---------------------------------------------------------------------------


async def register_commands(app: App, channel: TelegramChannel) -> None:
    """Citizens' commands for everyone; officials and admins (from ADMIN_IDS and granted in the
    database) also get theirs, in their private chats."""
    await channel.set_menu("citizen")
    roles: dict[str, str] = {}
    async with app.sessions() as session:
        rows = await session.execute(
            select(User.user_key, User.role).where(User.channel == NAME, User.role != "citizen")
        )
        roles.update({user_key: role for user_key, role in rows})
    roles.update({user_key: "admin" for user_key in app.settings.admin_keys(NAME)})
    for user_key, role in roles.items():
        await channel.set_menu(role, user_key)


# --- Start and stop --------------------------------------------------------------------------


@dataclass
class TelegramHandle:
    """What `start_telegram` started; give it back to `stop_telegram`."""

    app: App
    application: Application
    channel: TelegramChannel
    inbound: TelegramInbound
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def start_telegram(
    app: App, *, pacer: Pacer | None = None, dispatch: Dispatch | None = None
) -> TelegramHandle:
    """Serve Telegram: register the channel as `app.channels["telegram"]`, set the command menus
    and poll for updates. A rejected token stops start-up (ConfigError); an unreachable Telegram
    is retried in the background."""
    application = build_application(app.settings)
    channel = TelegramChannel(app.settings, bot=application.bot)
    inbound = TelegramInbound(app, channel, pacer=pacer, dispatch=dispatch)
    inbound.install(application)
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
            await alert_admins(
                handle.app, "Telegram rejected the bot token: check TELEGRAM_BOT_TOKEN"
            )
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
