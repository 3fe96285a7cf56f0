"""Sending a command's reply at once, the same way on every chat channel.

Replies go in the pacer's interactive lane, ahead of digests. They ride out "retry after" and
short outages, follow a migrated group, and end in a recorded state when they cannot go: a gone
chat is marked inactive, rejected content or a refused token alerts the admins.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from delivery.alerts import alert_admins
from delivery.pacing import INTERACTIVE, Pacer
from model.channel import Channel, OutMessage, Status
from runtime import App
from services.chats import mark_chat_inactive, migrate_chat
from storage.models import Chat

log = logging.getLogger(__name__)

REPLY_MAX_WAIT = 600.0  # a reply waits out "retry after" this long at most, then is given up
TRANSIENT_TRIES = 5


async def find_chat(app: App, channel: str, chat_key: str) -> Chat | None:
    async with app.sessions() as session:
        return await session.scalar(
            select(Chat).where(Chat.channel == channel, Chat.chat_key == chat_key)
        )


async def chat_lang(app: App, channel: str, chat_key: str) -> str:
    """The chat's language for the adapter's own few lines; Vietnamese when unknown or
    unreadable (this also runs when the database is what failed)."""
    try:
        chat = await find_chat(app, channel, chat_key)
    except Exception:  # noqa: BLE001 - an apology must not fail for want of a language
        return "vi"
    return chat.lang if chat else "vi"


async def send_reply(
    app: App, channel: Channel, pacer: Pacer | None, chat_key: str, kind: str,
    message: OutMessage,
) -> None:
    waited, tries, migrated = 0.0, 0, False
    while True:
        if pacer is not None:
            await pacer.acquire(chat_key, kind, lane=INTERACTIVE)
        outcome = await channel.send(chat_key, message, chat_kind=kind)
        status = outcome.status
        if status is Status.OK:
            return
        if status is Status.RETRY_AFTER and waited < REPLY_MAX_WAIT:
            pause = outcome.retry_after or 1.0
            if pacer is not None:
                pacer.pause(pause)
        elif status is Status.TRANSIENT and tries < TRANSIENT_TRIES:
            tries += 1
            pause = min(2.0**tries, 30.0)
        elif status is Status.MIGRATED and outcome.new_chat_key and not migrated:
            migrated = True
            await migrate_chat(app, channel.name, chat_key, outcome.new_chat_key)
            chat_key, kind = outcome.new_chat_key, "group"
            continue
        else:
            break
        waited += pause
        await asyncio.sleep(pause)  # the platform's wait or our back-off, not a guess
    log.warning("%s reply to chat %s not sent (%s): %s",
                channel.name, chat_key, status.value, outcome.detail)
    if status is Status.GONE:
        chat = await find_chat(app, channel.name, chat_key)
        if chat is not None and chat.active:
            await mark_chat_inactive(app, chat.id, outcome.detail)
    elif status in (Status.BAD_CONTENT, Status.AUTH):
        await alert_admins(app, f"{channel.name} reply not sent ({status.value}): {outcome.detail}")
