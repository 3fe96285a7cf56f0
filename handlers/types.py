"""What a channel adapter hands to the handlers, and what it gets back.

Adapters translate their platform's updates into `Incoming` and send each `OutMessage` of the
result; handlers know nothing of Telegram, Zalo or the console.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.channel import OutMessage


@dataclass
class Incoming:
    channel: str  # "telegram" | "zalo" | "console"
    chat_key: str  # the platform's chat id, as text
    user_key: str  # the platform's user id, as text (never a username)
    text: str = ""  # a typed message or command, e.g. "/sub nhà đại đoàn kết an giang"
    chat_kind: str = "private"  # private | group | channel
    chat_title: str = ""
    user_name: str = ""
    callback_data: str | None = None  # a pressed button's data
    callback_id: str | None = None
    message_id: str | None = None  # the message the button was on (for edits)
    document: tuple[str, bytes] | None = None  # an uploaded file (OPML for /import)
    sender_is_chat_admin: bool = False  # for group set-up: the platform says so
    language_code: str | None = None
    # The platform's id of the update, when it has one: handled once, whichever instance is
    # handed it (channels.inbound, services.leadership).
    update_key: str | None = None


@dataclass
class Result:
    """Messages to send back to the same chat, in order, plus an optional button answer."""

    messages: list[OutMessage] = field(default_factory=list)
    button_answer: str | None = None
