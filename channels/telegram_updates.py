"""Telegram updates in, as `Incoming`: what python-telegram-bot hands us, translated for the
shared inbound runner (channels/inbound.py), which does the rest.

- Messages, commands, documents (an OPML for /import), button presses, channel posts, the bot
  being added to or removed from a chat, and group → supergroup migrations are understood; in
  groups only commands (and replies to the bot) are read, and `/cmd@otherbot` is left alone.
- Each update carries its id, so that it is handled once, whichever instance is handed it.
- Before dispatch, a sent file is downloaded (within HTTP_MAX_BYTES) and Telegram is asked
  whether the sender administers the group, for its set-up.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from telegram import (
    CallbackQuery,
    ChatMember,
    ChatMemberUpdated,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from channels.inbound import Dispatch, Inbound
from channels.telegram import MAX_CALLBACK_BYTES, NAME, TelegramChannel
from delivery.chats import chat_gone, migrate_chat
from delivery.pacing import Pacer
from handlers.types import Incoming
from runtime import App

log = logging.getLogger(__name__)

ADMIN_CACHE_SECONDS = 60.0
ANONYMOUS_ADMIN_ID = 1087968824  # Telegram's GroupAnonymousBot: a group admin posting anonymously
_CHAT_KINDS: dict[str, str] = {
    ChatType.PRIVATE: "private",
    ChatType.GROUP: "group",
    ChatType.SUPERGROUP: "group",
    ChatType.CHANNEL: "channel",
}


def chat_kind(chat_type: str) -> str:
    return _CHAT_KINDS.get(chat_type, "private")


class TelegramInbound:
    """Turns updates into `Incoming` and hands them to the inbound runner."""

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
        self.runner = Inbound(app, channel, pacer=pacer, dispatch=dispatch, typing=channel.typing)
        self.max_file_bytes = app.settings.http_max_bytes
        self._admins: dict[tuple[int, int], tuple[bool, float]] = {}

    @property
    def username(self) -> str:
        return self.channel.bot.username or ""

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The update's id goes with it: a new leader is handed again what the previous one
        # handled but had not yet confirmed, and the runner handles each id once.
        key = str(update.update_id)
        if update.callback_query is not None:
            await self._on_callback(update.callback_query, key)
        elif update.my_chat_member is not None:
            await self._on_membership(update.my_chat_member, key)
        elif (message := update.message or update.channel_post) is not None:
            await self._on_message(message, key)

    async def _on_message(self, message: Message, update_key: str) -> None:
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
            update_key=update_key,
        )
        await self.runner.handle(incoming, partial(self._prepare, message))

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

    async def _on_callback(self, query: CallbackQuery, update_key: str) -> None:
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
            update_key=update_key,
        )
        await self.runner.handle(incoming)

    async def _on_membership(self, change: ChatMemberUpdated, update_key: str) -> None:
        """The bot was added to or removed from a chat, or a person blocked or unblocked it."""
        old, new = change.old_chat_member.status, change.new_chat_member.status
        chat_key = str(change.chat.id)
        if new in (ChatMember.LEFT, ChatMember.BANNED):
            reason = (
                "blocked by the user"
                if change.chat.type == ChatType.PRIVATE
                else "the bot was removed from the chat"
            )
            await chat_gone(self.app, NAME, chat_key, reason)
            return
        joined = old in (ChatMember.LEFT, ChatMember.BANNED)
        if joined and change.chat.type != ChatType.PRIVATE:
            # Added to a group or channel: greet it as if whoever added the bot typed /start.
            await self.runner.handle(
                Incoming(
                    channel=NAME,
                    chat_key=chat_key,
                    user_key=str(change.from_user.id),
                    text="/start",
                    chat_kind=chat_kind(change.chat.type),
                    chat_title=change.chat.title or "",
                    user_name=change.from_user.full_name,
                    language_code=change.from_user.language_code,
                    update_key=update_key,
                )
            )

    # --- Before dispatch -----------------------------------------------------------------------

    async def _prepare(self, message: Message, incoming: Incoming) -> bool:
        """Who may set up this chat, and the file sent with the message; False when the file
        was refused (the person has been told)."""
        incoming.sender_is_chat_admin = await self._is_chat_admin(incoming)
        if message.document is None:
            return True
        return await self._attach_document(incoming, message)

    async def _attach_document(self, incoming: Incoming, message: Message) -> bool:
        """Download the file into `incoming.document`; a file too big gets a polite line."""
        document = message.document
        assert document is not None
        if document.file_size is not None and document.file_size > self.max_file_bytes:
            limit_mb = max(1, self.max_file_bytes // 1_000_000)
            await self.runner.say(incoming, "file_too_big", limit_mb=limit_mb)
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
        chat_admin = member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
        if len(self._admins) > 10_000:
            self._admins.clear()
        self._admins[key] = (chat_admin, now + ADMIN_CACHE_SECONDS)
        return chat_admin
