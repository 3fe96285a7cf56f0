"""The Telegram channel: sends Loa's messages with python-telegram-bot 22 and reports Outcomes.

The sender paces every call (delivery/pacing.py), so no PTB rate limiter is used here: a second,
averaging limiter would only add bursts and delays the sender cannot see. PTB's exceptions never
leave this module; each becomes one `Outcome` the caller acts on:

    RetryAfter                                   -> RETRY_AFTER (retry_after seconds)
    Forbidden (blocked, deactivated, kicked),
    BadRequest "chat not found" and kin          -> GONE
    ChatMigrated                                 -> MIGRATED (new_chat_key)
    other BadRequest (entities, too long, ...)   -> BAD_CONTENT
    TimedOut, NetworkError, 5xx, Conflict        -> TRANSIENT
    InvalidToken (401/404), a malformed base URL -> AUTH

One `Bot` (one HTTP connection pool) serves every caller; the inbound application hands its own
bot in, so a process that both polls and sends has a single pool. The token is never logged:
PTB's and httpx's log lines are redacted by logs.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings

import httpx
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from config import ConfigError, Settings
from handlers.commands import command_list
from model.channel import Button, Capabilities, Markup, Outcome, OutMessage, Status
from runtime import tls_context

log = logging.getLogger(__name__)

NAME = "telegram"
MENU_LANGS = (("", "vi"), ("en", "en"))  # setMyCommands language_code -> our language
MAX_TEXT_UNITS = 4096
MAX_CAPTION_UNITS = 1024
MAX_CALLBACK_BYTES = 64
# Enough connections for the sender's concurrency at 30/s (or more with paid broadcasts); a call
# that finds them all busy waits for one rather than failing.
POOL_SIZE = 64
POOL_TIMEOUT = 30.0
REQUEST_TIMEOUT = 20.0

# BadRequest texts that mean the chat is out of reach, not that the message is wrong.
_GONE_TEXTS = (
    "chat not found",
    "user not found",
    "peer_id_invalid",
    "chat_write_forbidden",
    "not enough rights to send",
    "have no rights to send",
    "need administrator rights in the channel chat",
    "group chat was deactivated",
    "chat was deleted",
)
# An edit that cannot be made: the message is gone or too old, so send a new one instead.
_EDIT_IMPOSSIBLE = (
    "message to edit not found",
    "message can't be edited",
    "there is no text in the message to edit",
    "there is no caption in the message to edit",
)


def capabilities(settings: Settings) -> Capabilities:
    return Capabilities(
        max_text_units=MAX_TEXT_UNITS,
        max_caption_units=MAX_CAPTION_UNITS,
        markup=Markup.HTML,
        buttons=True,
        edits=True,
        global_per_second=settings.telegram_global_per_second,
        private_per_second=settings.telegram_private_per_second,
        group_per_minute=settings.telegram_group_per_minute,
    )


def requests() -> tuple[HTTPXRequest, HTTPXRequest]:
    """A bot's two HTTP clients, for its calls (a pool sized for the sender) and for getUpdates
    (one connection, as PTB makes it), over the process's one TLS context: PTB's own would each
    read the whole CA bundle again (runtime.tls_context)."""
    verify = {"verify": tls_context()}
    calls = HTTPXRequest(
        connection_pool_size=POOL_SIZE,
        pool_timeout=POOL_TIMEOUT,
        read_timeout=REQUEST_TIMEOUT,
        write_timeout=REQUEST_TIMEOUT,
        connect_timeout=REQUEST_TIMEOUT,
        media_write_timeout=REQUEST_TIMEOUT * 3,
        httpx_kwargs=verify,
    )
    return calls, HTTPXRequest(connection_pool_size=1, httpx_kwargs=verify)


def make_bot(settings: Settings) -> Bot:
    """A plain `Bot` (no rate limiter) on our base URLs, with a pool sized for the sender."""
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    calls, updates = requests()
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
        request=calls,
        get_updates_request=updates,
    )


async def whoami(settings: Settings) -> str:
    """The bot's @username, by getMe (`bot.py doctor`). Raises InvalidToken when Telegram
    rejects the token, another TelegramError when it cannot be reached."""
    bot = make_bot(settings)
    async with bot:  # initialize() calls getMe
        return f"@{bot.username}"


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds (PTB 22 gives an int now, a timedelta later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB warns that the attribute's type will change
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


BAD_URL = ("a Telegram base URL is malformed: check TELEGRAM_API_BASE_URL and "
           "TELEGRAM_FILE_BASE_URL")


def is_bad_url(exc: TelegramError) -> bool:
    """Whether httpx refused the URL itself: a setting to fix, not an outage to wait out. PTB
    wraps that as a NetworkError whose text quotes the URL, token included."""
    return isinstance(exc.__cause__, (httpx.InvalidURL, httpx.UnsupportedProtocol))


def outcome_for(exc: TelegramError) -> Outcome:
    """The normalised outcome of a failed call. The detail quotes Telegram (no token in it)."""
    if is_bad_url(exc):
        return Outcome(Status.AUTH, BAD_URL)
    detail = f"Telegram: {exc.message}"
    if isinstance(exc, RetryAfter):
        return Outcome(Status.RETRY_AFTER, detail, retry_after=retry_seconds(exc))
    if isinstance(exc, ChatMigrated):
        return Outcome(Status.MIGRATED, detail, new_chat_key=str(exc.new_chat_id))
    if isinstance(exc, InvalidToken):
        return Outcome(Status.AUTH, "Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)")
    if isinstance(exc, Forbidden):
        return Outcome(Status.GONE, detail)
    if isinstance(exc, BadRequest):  # before NetworkError: BadRequest is one in PTB
        text = exc.message.lower()
        if any(words in text for words in _GONE_TEXTS):
            return Outcome(Status.GONE, detail)
        return Outcome(Status.BAD_CONTENT, detail)
    return Outcome(Status.TRANSIENT, detail)  # TimedOut, NetworkError (5xx), Conflict


def keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    """Inline keyboard for the buttons; raises ValueError for data Telegram would refuse."""
    if not rows:
        return None
    for row in rows:
        for button in row:
            size = len(button.data.encode("utf-8"))
            if not 1 <= size <= MAX_CALLBACK_BYTES:
                raise ValueError(
                    f"button {button.label!r}: callback data of {size} bytes (1-64 allowed)"
                )
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in rows]
    )


class TelegramChannel:
    name = NAME

    def __init__(self, settings: Settings, *, bot: Bot | None = None) -> None:
        self.capabilities = capabilities(settings)
        self.bot = bot or make_bot(settings)
        self._owns_bot = bot is None

    async def start(self) -> None:
        """Open the connection pool and check the token, when the bot is our own. A rejected
        token raises ConfigError (PTB's own message would quote the token)."""
        if self._owns_bot:
            try:
                await self.bot.initialize()
            except InvalidToken:
                raise ConfigError(
                    "invalid setting TELEGRAM_BOT_TOKEN: Telegram rejected it"
                ) from None
            except TelegramError as exc:
                if is_bad_url(exc):
                    raise ConfigError(BAD_URL) from None
                raise

    async def close(self) -> None:
        if self._owns_bot:
            await self.bot.shutdown()

    async def send(
        self, chat_key: str, message: OutMessage, *, chat_kind: str = "private"
    ) -> Outcome:
        """Send (or edit) one message. Never raises for Telegram's errors: returns the Outcome."""
        try:
            chat_id = int(chat_key)
        except ValueError:
            return Outcome(Status.BAD_CONTENT, f"{chat_key!r} is not a Telegram chat id")
        try:
            markup = keyboard(message.buttons)
        except ValueError as exc:
            return Outcome(Status.BAD_CONTENT, str(exc))
        try:
            if message.edit_message_id is not None:
                sent = await self._edit(chat_id, message.edit_message_id, message, markup)
            else:
                sent = await self._send_new(chat_id, message, markup)
        except TelegramError as exc:
            return outcome_for(exc)
        if sent is None:
            return Outcome(Status.OK, "already up to date")
        return Outcome(Status.OK, message_id=str(sent.message_id))

    async def _send_new(
        self, chat_id: int, message: OutMessage, markup: InlineKeyboardMarkup | None
    ) -> Message:
        caption = message.text or None
        photo = message.photo if message.photo is not None else message.photo_url or None
        if photo is not None:
            return await self.bot.send_photo(
                chat_id,
                photo,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        if message.document is not None:
            filename, content = message.document
            return await self.bot.send_document(
                chat_id,
                content,
                filename=filename,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        return await self.bot.send_message(
            chat_id,
            message.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=message.disable_preview),
        )

    async def _edit(
        self, chat_id: int, edit_id: str, message: OutMessage, markup: InlineKeyboardMarkup | None
    ) -> Message | None:
        """Edit in place; a message that can no longer be edited gets a new one instead, and an
        edit that changes nothing is a success."""
        if message.photo is not None or message.document is not None:
            return await self._send_new(chat_id, message, markup)  # media is never edited
        message_id = int(edit_id)
        try:
            if message.text:
                edited = await self.bot.edit_message_text(
                    message.text,
                    chat_id,
                    message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    link_preview_options=LinkPreviewOptions(is_disabled=message.disable_preview),
                )
            else:
                edited = await self.bot.edit_message_reply_markup(
                    chat_id, message_id, reply_markup=markup
                )
        except BadRequest as exc:
            text = exc.message.lower()
            if "message is not modified" in text:
                return None
            if any(words in text for words in _EDIT_IMPOSSIBLE):
                return await self._send_new(chat_id, message, markup)
            raise
        return edited if isinstance(edited, Message) else None

    async def answer_button(self, callback_id: str, text: str = "") -> Outcome:
        try:
            await self.bot.answer_callback_query(callback_id, text=text[:200] or None)
        except BadRequest as exc:
            if "query is too old" in exc.message.lower():
                return Outcome(Status.OK, "the button press had expired")  # nothing left to do
            return outcome_for(exc)
        except TelegramError as exc:
            return outcome_for(exc)
        return Outcome(Status.OK)

    async def typing(self, chat_key: str) -> None:
        """Show "typing…" while a slow command runs; a failure here only costs the hint."""
        try:
            await self.bot.send_chat_action(int(chat_key), "typing")
        except TelegramError as exc:
            log.debug("typing hint not shown in chat %s: %s", chat_key, exc.message)

    async def set_menu(self, role: str, chat_key: str | None = None) -> bool:
        """Show `role`'s commands in the menu: for everyone (no chat), or in one person's private
        chat. False when Telegram refused (e.g. a person who never started the bot)."""
        scope = BotCommandScopeChat(int(chat_key)) if chat_key is not None else None
        try:
            for language_code, lang in MENU_LANGS:
                commands = [BotCommand(name, description[:256])
                            for name, description in command_list(role, lang)]
                await self.bot.set_my_commands(commands, scope=scope,
                                               language_code=language_code or None)
        except TelegramError as exc:
            where = f"chat {chat_key}" if chat_key else "everyone"
            log.info("command menu for %s not set: %s", where, exc.message)
            return False
        return True

    async def set_role_menu(self, user_key: str, role: str) -> None:
        """After a grant or revoke: a citizen falls back to the default menu."""
        if role != "citizen":
            await self.set_menu(role, user_key)
            return
        try:
            for language_code, _ in MENU_LANGS:
                await self.bot.delete_my_commands(scope=BotCommandScopeChat(int(user_key)),
                                                  language_code=language_code or None)
        except TelegramError as exc:
            log.info("command menu of chat %s not reset: %s", user_key, exc.message)

    async def download(self, file_id: str) -> bytes:
        """The content of a file a user sent (an OPML for /import). Raises TelegramError."""
        file = await self.bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())
