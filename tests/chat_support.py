"""A scripted person talking to `handlers.router.dispatch`, with every reply checked against the
platform's rules: at most 4096 UTF-16 units (2000 on Zalo), callback data of at most 64 bytes, and
only Telegram's HTML tags, balanced."""

from __future__ import annotations

from html.parser import HTMLParser

from handlers.router import dispatch
from handlers.types import Incoming, Result
from runtime import App
from vntext import utf16_len

ALLOWED_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler"}
LIMITS = {"zalo": 2000}


class _TagCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ALLOWED_TAGS, f"<{tag}> is not Telegram HTML"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


def check_html(text: str) -> None:
    parser = _TagCheck()
    parser.feed(text)
    parser.close()
    assert not parser.stack, f"unclosed tags {parser.stack} in {text!r}"


class Person:
    """One person in one chat. `chat` defaults to the person's private chat."""

    def __init__(self, app: App, user: str = "100", *, channel: str = "telegram",
                 chat: str | None = None, kind: str = "private", chat_admin: bool = False) -> None:
        self.app, self.user, self.channel = app, user, channel
        self.chat, self.kind, self.chat_admin = chat or user, kind, chat_admin
        self.last = Result()
        self._message_ids = 0

    def _check(self, result: Result) -> Result:
        limit = LIMITS.get(self.channel, 4096)
        for message in result.messages:
            assert utf16_len(message.text) <= limit, f"{utf16_len(message.text)} units > {limit}"
            check_html(message.text)
            for row in message.buttons:
                for button in row:
                    assert len(button.data.encode()) <= 64, button.data
        self.last = result
        return result

    async def say(self, text: str, *, document: tuple[str, bytes] | None = None) -> Result:
        return self._check(await dispatch(self.app, Incoming(
            channel=self.channel, chat_key=self.chat, user_key=self.user, text=text,
            chat_kind=self.kind, document=document, sender_is_chat_admin=self.chat_admin)))

    async def press(self, data: str) -> Result:
        self._message_ids += 1
        return self._check(await dispatch(self.app, Incoming(
            channel=self.channel, chat_key=self.chat, user_key=self.user, callback_data=data,
            callback_id=f"cb{self._message_ids}", message_id=str(self._message_ids),
            chat_kind=self.kind, sender_is_chat_admin=self.chat_admin)))

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.last.messages)

    def buttons(self) -> list[tuple[str, str]]:
        return [(b.label, b.data) for m in self.last.messages for row in m.buttons for b in row]

    def button(self, label: str) -> str:
        """The data of the last reply's button whose label contains `label`."""
        found = [data for text, data in self.buttons() if label in text]
        assert found, f"no button {label!r} in {[text for text, _ in self.buttons()]}"
        return found[0]

    async def tap(self, label: str) -> Result:
        return await self.press(self.button(label))
