"""What a handler works with: the message, its chat and person, the language, what the channel
can show, and helpers that build the reply."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from handlers.commands import commands
from handlers.types import Incoming, Result
from model.channel import Button, OutMessage
from render.compose import split_parts
from render.markup import Html
from render.texts import t
from runtime import App
from services import audit, chats
from services.errors import Refusal, ServiceError
from services.users import Person
from storage.models import Chat

# For a channel that is not registered in `app.channels` (tests, the CLI): what its platform can do.
_FALLBACK = {"telegram": (True, True, 4096), "zalo": (False, False, 2000)}
_DEFAULT = (False, False, 4096)


def new_nonce() -> str:
    return secrets.token_hex(3)


@dataclass
class Ctx:
    app: App
    msg: Incoming
    chat: Chat
    person: Person
    dialog: dict[str, Any] = field(default_factory=dict)

    @property
    def lang(self) -> str:
        return self.chat.lang

    @property
    def role(self) -> str:
        return self.person.role

    @property
    def actor(self) -> str:
        return audit.actor_of(self.msg.channel, self.msg.user_key)

    @property
    def private(self) -> bool:
        return self.chat.kind == "private"

    def _caps(self) -> tuple[bool, bool, int]:
        channel = self.app.channels.get(self.msg.channel)
        if channel is None:
            return _FALLBACK.get(self.msg.channel, _DEFAULT)
        caps = channel.capabilities
        return caps.buttons, caps.edits, caps.max_text_units

    @property
    def buttons(self) -> bool:
        """Whether this channel shows buttons; if not, replies carry typed instructions."""
        return self._caps()[0]

    @property
    def max_units(self) -> int:
        return self._caps()[2]

    def t(self, key: str, **params: object) -> Html:
        return t(self.lang, key, **params)

    def cmd(self, name: str, arg: object) -> str:
        """A command with its argument as shown in a list: "/why_12" is a tappable link on
        Telegram; elsewhere "/why 12" is easier to type. Both are understood."""
        return f"/{name}_{arg}" if self.buttons else f"/{name} {arg}"

    def require_chat_admin(self) -> None:
        """Only an admin of a group or channel may change what it receives."""
        if not self.private and not self.msg.sender_is_chat_admin:
            raise ServiceError(Refusal.GROUP_ADMIN_ONLY,
                               "only an admin of the group can change its subscriptions")

    async def save_dialog(self) -> None:
        await chats.set_dialog(self.app, self.chat.id, self.dialog)

    def reply(self, *blocks: str, buttons: list[list[Button]] | None = None,
              edit: bool = False, answer: str | None = None) -> Result:
        """Blocks joined into as few messages as the channel allows, split only between blocks;
        buttons go under the last one. `edit` replaces the pressed button's message if it can."""
        parts = split_parts([b for b in blocks if b], self.max_units) or [""]
        messages = [OutMessage(text=p) for p in parts]
        if buttons and self.buttons:
            messages[-1].buttons = buttons
        if edit and self._caps()[1] and self.msg.message_id and len(messages) == 1:
            messages[0].edit_message_id = self.msg.message_id
        return Result(messages=messages, button_answer=answer)

    def usage(self, name: str) -> Result:
        """How to use the command called `name` (its main name)."""
        return self.reply(self.t("usage", usage=commands()[name].usage_line(self.lang)))
