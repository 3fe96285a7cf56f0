"""Chat lifecycle changes that the platform tells us about: a chat that is gone, a group that
migrated to a new id. Used by the sender (on a send outcome) and by the channel adapters (on an
update), so both paths leave the database in the same state.

The channel adapters' few reads (a chat, its language) are here too, so channels/ holds no SQL.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from model.enums import OutboxState
from runtime import App
from storage.dialect import lock_for_write
from storage.models import Chat, DeliveredItem, Delivery, Subscription

log = logging.getLogger(__name__)


async def mark_chat_inactive(app: App, chat_id: int, reason: str) -> None:
    """Stop sending to a chat (blocked, kicked, deleted): its pending deliveries are cancelled with
    the reason, so nothing waits forever and admins can see why. Its data stays until /stop."""
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        await session.execute(
            update(Chat).where(Chat.id == chat_id).values(active=False, inactive_reason=reason)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.chat_id == chat_id, Delivery.state == OutboxState.PENDING)
            .values(state=OutboxState.CANCELLED, last_error=f"chat inactive: {reason}")
        )
    log.info("chat %s marked inactive: %s", chat_id, reason)


async def find_chat(app: App, channel: str, chat_key: str) -> Chat | None:
    async with app.sessions() as session:
        return await session.scalar(
            select(Chat).where(Chat.channel == channel, Chat.chat_key == chat_key)
        )


async def chat_lang(app: App, channel: str, chat_key: str) -> str:
    """The chat's language for an adapter's own few lines; Vietnamese when unknown or
    unreadable (this also runs when the database is what failed)."""
    try:
        chat = await find_chat(app, channel, chat_key)
    except Exception:  # noqa: BLE001 - an apology must not fail for want of a language
        return "vi"
    return chat.lang if chat else "vi"


async def chat_gone(app: App, channel: str, chat_key: str, reason: str) -> None:
    """The platform says the chat is gone (blocked, kicked): mark it inactive, if we know it."""
    chat = await find_chat(app, channel, chat_key)
    if chat is not None and chat.active:
        await mark_chat_inactive(app, chat.id, reason)


async def migrate_chat(app: App, channel: str, old_key: str, new_key: str) -> int | None:
    """Move a chat to its new platform id (a Telegram group that became a supergroup).

    Subscriptions, settings and queued deliveries follow it. When the new id already has a chat
    row (someone used the supergroup before we learnt of the move), the old chat is merged into
    it and kept as an inactive record. Returns the id of the chat that now holds everything, or
    None when neither id is known.
    """
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        rows = (
            await session.execute(
                select(Chat).where(Chat.channel == channel, Chat.chat_key.in_([old_key, new_key]))
            )
        ).scalars().all()
        old = next((c for c in rows if c.chat_key == old_key), None)
        new = next((c for c in rows if c.chat_key == new_key), None)
        if old is None:
            return new.id if new else None
        if new is None:
            old.chat_key = new_key
            old.kind = "group"
            old.active = True
            old.inactive_reason = None
            log.info("chat %s migrated %s:%s -> %s", old.id, channel, old_key, new_key)
            return old.id
        # Merge: the new row keeps its id; the old row's state moves onto it.
        await session.execute(
            update(Subscription).where(Subscription.chat_id == old.id).values(chat_id=new.id)
        )
        await session.execute(
            update(Delivery)
            .where(
                Delivery.chat_id == old.id,
                Delivery.state.in_([OutboxState.PENDING, OutboxState.SENDING]),
            )
            .values(chat_id=new.id)
        )
        already = select(DeliveredItem.item_id).where(DeliveredItem.chat_id == new.id)
        await session.execute(
            delete(DeliveredItem).where(
                DeliveredItem.chat_id == old.id, DeliveredItem.item_id.in_(already)
            )
        )
        await session.execute(
            update(DeliveredItem).where(DeliveredItem.chat_id == old.id).values(chat_id=new.id)
        )
        new.lang, new.default_mode = old.lang, old.default_mode
        new.default_hour, new.default_weekday = old.default_hour, old.default_weekday
        new.kind, new.active, new.inactive_reason = "group", True, None
        old.active, old.inactive_reason = False, f"migrated to {new_key}"
        log.info("chat %s merged into %s (%s:%s -> %s)", old.id, new.id, channel, old_key, new_key)
        return new.id
