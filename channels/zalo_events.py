"""Zalo events in, as `Incoming`: the handlers' view of what the Bot API delivers, by long polling
or by webhook, in the same shape. Only text messages and photo captions are read.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.zalo import NAME
from handlers.types import Incoming
from services import limits

log = logging.getLogger(__name__)

TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"


def _unwrap(event: dict[str, Any]) -> dict[str, Any]:
    """The event itself: the webhook may wrap it in the same envelope as getUpdates."""
    if "event_name" not in event and isinstance(event.get("result"), dict):
        inner: dict[str, Any] = event["result"]
        return inner
    return event


def _part(message: dict[str, Any], key: str) -> dict[str, Any]:
    value = message.get(key)
    return value if isinstance(value, dict) else {}


def to_incoming(event: dict[str, Any]) -> Incoming | None:
    """The handlers' view of one Zalo event; None for events Loa does not act on."""
    event = _unwrap(event)
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    name = event.get("event_name") or (TEXT_EVENT if "text" in message else "")
    if name == TEXT_EVENT:
        text = message.get("text")
    elif name == IMAGE_EVENT:
        text = message.get("caption")  # a photo is read only for its caption
    else:
        return None
    sender, chat = _part(message, "from"), _part(message, "chat")
    user_key, chat_key = str(sender.get("id") or ""), str(chat.get("id") or "")
    if not isinstance(text, str) or not text.strip() or not user_key or not chat_key:
        return None
    if not (limits.platform_key_ok(user_key) and limits.platform_key_ok(chat_key)):
        # Looked up before the router sees it (flood limit, language): never a stored id.
        log.warning("zalo event with malformed ids: user %s, chat %s",
                    limits.shown(user_key), limits.shown(chat_key))
        return None
    if sender.get("is_bot"):
        return None
    return Incoming(
        channel=NAME,
        chat_key=chat_key,
        user_key=user_key,
        text=text,
        chat_kind="group" if str(chat.get("chat_type", "")).upper() == "GROUP" else "private",
        user_name=str(sender.get("display_name") or sender.get("name") or ""),
    )


def event_id(event: dict[str, Any]) -> str | None:
    message = _unwrap(event).get("message")
    if not isinstance(message, dict) or not message.get("message_id"):
        return None
    return str(message["message_id"])
