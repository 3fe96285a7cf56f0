"""Alerts to admins (a paused source, a rejected message, a rejected token).

An alert is logged, and queued in the outbox (lane 0) for every admin's private chat on every
channel: admins from ADMIN_IDS and those granted in the database, where they have a chat with the
bot. The same text goes to an admin at most once an hour, so a fault that repeats does not flood
them. Alerting never raises: it is called on error paths.
"""

from __future__ import annotations

import hashlib
import logging
from enum import StrEnum

from sqlalchemy import and_, exists, or_, select

from config import CHANNELS
from delivery.outbox import enqueue
from model.enums import DeliveryKind
from render.compose import render_alert
from runtime import App
from storage.dialect import lock_for_write
from storage.models import Chat, User

log = logging.getLogger(__name__)


class Alert(StrEnum):
    """What an alert is about. Each has its text, `alert_<value>`, in both languages of the
    catalogue, rendered in every admin's own language; its `detail` parameter is the technical
    reason (an error, the platform's answer), quoted as it came."""

    SOURCE_PAUSED = "source_paused"
    COMPOSE_FAILED = "compose_failed"
    DELIVERY_FAILED = "delivery_failed"
    TOKEN_REJECTED = "token_rejected"
    REPLY_FAILED = "reply_failed"


async def alert_admins(app: App, alert: Alert, **params: object) -> None:
    log.warning("admin alert %s: %s", alert.value,
                ", ".join(f"{key}={value}" for key, value in params.items()))
    text = f"{alert.value}:{sorted((k, str(v)) for k, v in params.items())}"
    try:
        now = app.clock()
        digest = hashlib.sha1(text.encode()).hexdigest()[:16]
        hour = now.strftime("%Y%m%d%H")
        async with app.sessions() as session, session.begin():
            await lock_for_write(session)
            granted = exists().where(User.role == "admin", User.channel == Chat.channel,
                                     User.user_key == Chat.chat_key)
            configured = [and_(Chat.channel == channel, Chat.chat_key.in_(keys))
                          for channel in CHANNELS if (keys := app.settings.admin_keys(channel))]
            who = or_(granted, *configured)
            chats = (await session.execute(
                select(Chat.id, Chat.lang).where(Chat.kind == "private", Chat.active.is_(True), who)
            )).all()
            for chat_id, lang in chats:
                await enqueue(app, chat_id, [render_alert(lang, alert, params)],
                              kind=DeliveryKind.ALERT,
                              dedup_key=f"alert:{chat_id}:{digest}:{hour}", session=session)
    except Exception:
        log.exception("could not queue the admin alert")
