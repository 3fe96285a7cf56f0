"""What the chat handlers need: find or create a chat, its language and dialogue state, and
deleting everything about it on /stop (Decree 13/2023). The lifecycle changes the platform
reports (a chat gone, a group migrated) are in delivery/chats.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import App
from services import audit, limits
from services.errors import Refusal, ServiceError
from storage.models import Chat, User

LANGS = ("vi", "en")


async def ensure_chat(app: App, channel: str, chat_key: str, kind: str = "private",
                      title: str = "") -> Chat:
    """The chat's row, created on first contact. A chat that had gone inactive (it blocked the
    bot) and writes again is active again."""
    for _ in range(2):  # a concurrent first message may create the row between our two steps
        async with app.sessions() as session:
            chat = await chat_row(session, channel, chat_key, kind, title)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                continue
            return chat
    raise RuntimeError(f"could not create chat {channel}:{chat_key}")


async def chat_row(session: AsyncSession, channel: str, chat_key: str, kind: str,
                   title: str) -> Chat:
    """`ensure_chat`'s work in the caller's transaction (a new row is added, not flushed)."""
    title = limits.clean_name(title)
    chat = await session.scalar(
        select(Chat).where(Chat.channel == channel, Chat.chat_key == chat_key))
    if chat is None:
        chat = Chat(channel=channel, chat_key=chat_key, kind=kind, title=title)
        session.add(chat)
    else:
        chat.kind = kind
        if title:
            chat.title = title
        if not chat.active:
            chat.active, chat.inactive_reason = True, None
    return chat


async def set_lang(app: App, chat_id: int, lang: str) -> None:
    if lang not in LANGS:
        raise ServiceError(Refusal.BAD_LANG, f"unknown language {lang!r}")
    async with app.sessions() as session, session.begin():
        await session.execute(update(Chat).where(Chat.id == chat_id).values(lang=lang))


async def set_dialog(app: App, chat_id: int, dialog: dict[str, Any] | None) -> None:
    """Replace the chat's dialogue state: a picker step, a pending confirmation, searches."""
    async with app.sessions() as session, session.begin():
        await session.execute(update(Chat).where(Chat.id == chat_id).values(dialog=dialog or None))


async def forget_chat(app: App, chat_id: int, user_id: int | None = None) -> None:
    """Delete the chat and everything hanging off it (subscriptions, queued and delivered items),
    and, when `user_id` is given, the person's own record (role, official provinces), with
    their id replaced by a pseudonym in the audit log."""
    async with app.sessions() as session, session.begin():
        # The foreign keys cascade (SQLite has them switched on in storage/db.py).
        await session.execute(delete(Chat).where(Chat.id == chat_id))
        user = await session.get(User, user_id) if user_id is not None else None
        if user is not None:
            await audit.pseudonymise(session, app.settings, user.channel, user.user_key)
            await session.delete(user)
