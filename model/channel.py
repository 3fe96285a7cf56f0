"""The Channel interface: what every chat adapter (Telegram, Zalo, console) offers.

The sender and the handlers talk only to this. Each send returns one normalised Outcome, and
callers decide what to do by the outcome alone, never by a channel's exception types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class Markup(enum.Enum):
    HTML = "html"  # Telegram's HTML subset
    PLAIN = "plain"


@dataclass(frozen=True)
class Capabilities:
    max_text_units: int  # UTF-16 units per message (Telegram 4096; Zalo 2000)
    max_caption_units: int
    markup: Markup
    buttons: bool
    edits: bool
    # Default pacing; the configured values override these.
    global_per_second: float
    private_per_second: float
    group_per_minute: float


class Status(enum.Enum):
    OK = "ok"
    RETRY_AFTER = "retry_after"  # the platform asked us to wait `retry_after` seconds
    GONE = "gone"  # blocked, deactivated, kicked, chat not found: stop sending to this chat
    MIGRATED = "migrated"  # the chat has a new id (`new_chat_key`): move and resend
    BAD_CONTENT = "bad_content"  # the message was rejected as malformed: never retry as is
    TRANSIENT = "transient"  # timeout, 5xx, network: retry with backoff
    AUTH = "auth"  # our token is invalid: nothing will work until an admin fixes it


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""  # human-readable reason, safe to store and show to admins
    retry_after: float | None = None
    new_chat_key: str | None = None
    message_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data, at most 64 bytes, validated on the way back in


@dataclass
class OutMessage:
    """A message to send. `text` is in Telegram's HTML subset with everything user-given escaped;
    a plain-text channel turns it into plain text (render/markup.py)."""

    text: str = ""
    buttons: list[list[Button]] = field(default_factory=list)
    photo: bytes | None = None  # PNG bytes; `text` is then the caption
    photo_url: str | None = None  # for channels that send photos by URL (Zalo)
    document: tuple[str, bytes] | None = None  # (file name, content)
    edit_message_id: str | None = None  # edit this message instead of sending a new one
    disable_preview: bool = True


class Channel(Protocol):
    name: str  # "telegram", "zalo", "console"
    capabilities: Capabilities

    async def send(
        self, chat_key: str, message: OutMessage, *, chat_kind: str = "private"
    ) -> Outcome:
        """Send (or edit) one message. Never raises for platform errors: returns the Outcome."""
        ...

    async def answer_button(self, callback_id: str, text: str = "") -> Outcome:
        """Acknowledge a button press (a no-op where buttons don't exist)."""
        ...

    async def set_role_menu(self, user_key: str, role: str) -> None:
        """Show a person the commands of their new role (a no-op where menus don't exist)."""
        ...
