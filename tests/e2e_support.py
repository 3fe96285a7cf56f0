"""Harness for end-to-end tests: the whole bot (`cli.run.start_services`: delivery, the Telegram
channel, the poller) against the fake Bot API and the local feed server, over real sockets, and
Telegram users who talk to it the way a phone would: send a message, press a button the bot sent.

Every wait is on a condition with a timeout; nothing sleeps for a guessed time.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from cli.run import Running, start_services
from config import Settings
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram, Sent
from tests.waiting import PATIENCE, wait_for

WAIT = PATIENCE  # how long any one expected answer may take before the test fails

# Errors the fake answers only for a problem in what the bot sent (bad HTML, too long, bad
# buttons, empty text, unknown method): none may ever occur. Scripted answers (403, 429,
# migrated) are expected where a test asks for them.
SCRIPTED_CODES = {403, 429}
SCRIPTED_DESCRIPTIONS = {"Bad Request: group chat was upgraded to a supergroup chat",
                         "Bad Request: chat not found"}


def e2e_settings(db_url: str, fake: FakeTelegram, **overrides: object) -> Settings:
    """The bot on `db_url`, talking to `fake`, polling and delivering at test pace. Per-chat
    pacing is lifted (a scripted person answers faster than a human could tap); the fake does
    not enforce limits unless a test asks it to."""
    values: dict[str, object] = {
        **fake.settings_overrides(),
        "poll_interval_seconds": 1,
        "poll_min_interval_seconds": 1,
        "delivery_poll_seconds": 0.05,
        "delivery_retry_base_seconds": 0.05,
        "telegram_private_per_second": 100.0,
        "telegram_group_per_minute": 1000,
        "http_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return make_settings(db_url, **values)


@asynccontextmanager
async def bot(settings: Settings) -> AsyncIterator[Running]:
    """The whole bot, as `bot.py run` starts it; stopped in its own safe order."""
    running = await start_services(settings)
    try:
        await wait_for(lambda: "telegram" in running.app.channels)
        yield running
    finally:
        await running.stop()


def bad_sends(fake: FakeTelegram) -> list[tuple[str, int | None, int, str]]:
    """What the fake refused that no script asked for: malformed HTML, over-long text, bad
    keyboards, unknown methods. Every e2e test asserts this is empty at its end. (A getUpdates
    409 is PTB's last poll on the way out overtaking the long poll it abandoned: not a send.)"""
    return [e for e in fake.errors
            if e[2] not in SCRIPTED_CODES and e[3] not in SCRIPTED_DESCRIPTIONS
            and e[0] != "getUpdates"]


@dataclass
class TgUser:
    """One Telegram user in one chat (their private chat unless `chat_id` says otherwise)."""

    fake: FakeTelegram
    user_id: int
    chat_id: int | None = None
    chat_type: str | None = None
    title: str | None = None
    seen: int = field(default=0, init=False)  # records of this chat already handed out

    def __post_init__(self) -> None:
        self.chat_id = self.user_id if self.chat_id is None else self.chat_id

    @property
    def records(self) -> list[Sent]:
        return self.fake.messages_for(self.chat_id)  # type: ignore[arg-type]

    async def expect(self, n: int = 1, timeout: float = WAIT) -> list[Sent]:
        """The next `n` records (sends and edits) in this chat, once they have arrived."""
        found = await self.fake.wait_for_messages(self.chat_id, self.seen + n, timeout)  # type: ignore[misc]
        new = found[self.seen:self.seen + n]
        self.seen += n
        return new

    async def say(self, text: str, n: int = 1) -> list[Sent]:
        """Type `text` and wait for the bot's `n` answers."""
        self.fake.push_message(self.user_id, self.chat_id, text, self.chat_type,  # type: ignore[arg-type]
                               title=self.title)
        return await self.expect(n)

    def keyboard(self) -> Sent:
        """The newest message of the bot in this chat that carries buttons."""
        with_buttons = [s for s in self.records if s.buttons]
        assert with_buttons, f"no keyboard in chat {self.chat_id}"
        return with_buttons[-1]

    def button(self, label: str, message: Sent | None = None) -> dict:  # type: ignore[type-arg]
        """The button whose text contains `label`, on `message` or the newest keyboard."""
        message = message or self.keyboard()
        found = [b for row in message.buttons for b in row if label in b["text"]]
        labels = [b["text"] for row in message.buttons for b in row]
        assert found, f"no button {label!r} among {labels}"
        return found[0]

    async def press(self, label: str, n: int = 1, message: Sent | None = None) -> list[Sent]:
        """Tap a button the bot sent (its real callback_data, on its message), wait until the
        press is answered and for the bot's `n` messages or edits."""
        message = message or self.keyboard()
        button = self.button(label, message)
        query = self.fake.push_callback(self.user_id, self.chat_id, button["callback_data"],  # type: ignore[arg-type]
                                        message.message_id)
        await wait_for(lambda: query in self.fake.callback_answers)
        return await self.expect(n) if n else []


# --- Feeds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedItem:
    title: str
    slug: str
    summary: str = ""
    age_hours: float = 1.0  # published this long before now

    @property
    def published(self) -> datetime:
        return datetime.now(UTC) - timedelta(hours=self.age_hours)


def rss(items: Iterable[FeedItem], base: str = "https://baotinh.example.vn",
        title: str = "Báo Tỉnh Ví Dụ") -> bytes:
    """An RSS 2.0 document in the shape Vietnamese portals publish (our own words)."""
    entries = "".join(
        f"<item><title>{html.escape(i.title)}</title>"
        f"<link>{base}/{i.slug}.html</link><guid>{base}/{i.slug}.html</guid>"
        f"<pubDate>{format_datetime(i.published)}</pubDate>"
        f"<description>{html.escape(i.summary)}</description></item>"
        for i in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(title)}</title><link>{base}/</link>{entries}"
            f"</channel></rss>").encode()
