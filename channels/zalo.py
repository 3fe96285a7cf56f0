"""The Zalo channel: sends Loa's messages through the Zalo Bot API and reports normalised Outcomes.

Zalo has plain text only (at most 2000 characters, counted here in UTF-16 units to be safe), no
buttons, no edits, and photos only by URL. So:
- the handlers' HTML becomes plain text (`render.markup.html_to_plain`); buttons are dropped,
  since the handlers' text for a channel without buttons already names the typed alternatives;
- a text over the limit is split at paragraph (item) boundaries, and a retry of the same message
  resumes after the parts already sent, so a part is never sent twice;
- a photo given as bytes is served from our `MediaStore` under PUBLIC_BASE_URL; without one, only
  its caption is sent. A file (OPML export) is offered as a link the same way.
- Zalo's 429 has no retry_after and Zalo publishes no rate: we back off ourselves, doubling per
  429 in a row, and while backing off no call is made at all (the quota is the bot's, not a chat's).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from channels.zalo_client import ZaloClient, ZaloError
from channels.zalo_http import MediaStore
from config import Settings
from model.channel import Capabilities, Markup, Outcome, OutMessage, Status
from render.markup import html_to_plain
from vntext import utf16_fit, utf16_len

log = logging.getLogger(__name__)

NAME = "zalo"
MAX_TEXT_UNITS = 2000
_GONE_WORDS = ("block", "user not found", "chat not found", "not exist", "unfollow")
_FILE_TYPES = {".opml": "text/x-opml; charset=utf-8", ".xml": "application/xml; charset=utf-8",
               ".csv": "text/csv; charset=utf-8", ".png": "image/png"}


def capabilities(settings: Settings) -> Capabilities:
    return Capabilities(
        max_text_units=MAX_TEXT_UNITS,
        max_caption_units=MAX_TEXT_UNITS,
        markup=Markup.PLAIN,
        buttons=False,
        edits=False,
        global_per_second=settings.zalo_global_per_second,
        private_per_second=settings.zalo_private_per_second,
        group_per_minute=settings.zalo_group_per_minute,
    )


def split_plain(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Split plain text into parts of at most `limit` UTF-16 units: at blank lines (between items)
    first, then at line ends, then at spaces; a single overlong word is cut."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        fits = utf16_fit(rest, limit)
        window = rest[:fits]
        cut = next((at for sep in ("\n\n", "\n", " ") if (at := window.rfind(sep)) > 0), fits)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].strip()
    if rest:
        parts.append(rest)
    return parts


class QuotaBackoff:
    """Our own wait after Zalo's 429: `initial` seconds, doubled per 429 in a row, up to `maximum`.
    A success eases it by one step rather than resetting it, so a tight quota does not make us
    oscillate between flooding and waiting."""

    def __init__(self, initial: float, maximum: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.initial, self.maximum, self.clock = initial, maximum, clock
        self.streak = 0
        self.until = 0.0

    def remaining(self) -> float:
        return max(0.0, self.until - self.clock())

    def hit(self) -> float:
        """A 429 arrived: return how long to wait. 429s to calls that were already in flight
        during the current wait do not lengthen it."""
        left = self.remaining()
        if left > 0:
            return left
        delay = min(self.initial * 2.0**self.streak, self.maximum)
        self.streak += 1
        self.until = self.clock() + delay
        return delay

    def success(self) -> None:
        self.streak = max(0, self.streak - 1)


@dataclass(frozen=True)
class _Step:
    text: str  # the text, or the photo's caption
    photo_url: str | None = None


class ZaloChannel:
    name = NAME

    def __init__(
        self, settings: Settings, client: ZaloClient, media: MediaStore | None = None
    ) -> None:
        self.capabilities = capabilities(settings)
        self.client = client
        self.media = media  # None when PUBLIC_BASE_URL is not set: photos are not possible
        self.backoff = QuotaBackoff(settings.zalo_quota_backoff_seconds,
                                    settings.zalo_quota_backoff_max_seconds)
        # (chat, message digest) -> parts already sent, for messages that went out in parts.
        self._progress: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def send(
        self, chat_key: str, message: OutMessage, *, chat_kind: str = "private"
    ) -> Outcome:
        """Send one message (in parts if it is long). Never raises for Zalo's errors."""
        wait = self.backoff.remaining()
        if wait > 0:
            return Outcome(Status.RETRY_AFTER, "Zalo quota exceeded; backing off", retry_after=wait)
        steps = self._steps(message)
        if isinstance(steps, Outcome):
            return steps
        key = (chat_key, _digest(steps))
        done = self._progress.get(key, 0)
        result: object = None
        for index in range(done, len(steps)):
            step = steps[index]
            try:
                if step.photo_url:
                    result = await self.client.send_photo(chat_key, step.photo_url, step.text)
                else:
                    result = await self.client.send_message(chat_key, step.text)
            except ZaloError as exc:
                if index > 0:
                    self._remember(key, index)
                return self._outcome(exc)
            self.backoff.success()
        self._progress.pop(key, None)
        detail = "" if len(steps) == 1 else f"sent in {len(steps)} parts"
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return Outcome(Status.OK, detail, message_id=str(message_id) if message_id else None)

    async def answer_button(self, callback_id: str, text: str = "") -> Outcome:
        return Outcome(Status.OK, "Zalo has no buttons")

    async def set_role_menu(self, user_key: str, role: str) -> None:
        """Zalo has no command menu: /help lists the commands of the person's role."""

    async def typing(self, chat_key: str) -> None:
        """Show "typing…" while a slow command runs; a failure here only costs the hint."""
        try:
            await self.client.send_chat_action(chat_key, "typing")
        except ZaloError as exc:
            log.debug("Zalo typing hint not shown: %s", exc.description)

    async def close(self) -> None:
        await self.client.aclose()

    # --- Rendering ----------------------------------------------------------------------------

    def _steps(self, message: OutMessage) -> list[_Step] | Outcome:
        """What one OutMessage becomes on Zalo: API calls, in order."""
        text = html_to_plain(message.text) if message.text else ""
        photo_url = message.photo_url
        if message.photo is not None and photo_url is None and self.media is not None:
            photo_url = self.media.put(message.photo, ".png", "image/png")
        if message.document is not None:
            file_name, content = message.document
            if self.media is None:
                return Outcome(
                    Status.BAD_CONTENT, "Zalo cannot send files and PUBLIC_BASE_URL is not set"
                )
            suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
            url = self.media.put(
                content, suffix, _FILE_TYPES.get(suffix, "application/octet-stream")
            )
            text = f"{text}\n{file_name}: {url}".strip()
        if photo_url and utf16_len(text) <= self.capabilities.max_caption_units:
            return [_Step(text, photo_url)]
        parts = split_plain(text, self.capabilities.max_text_units)
        if photo_url:
            return [_Step("", photo_url)] + [_Step(part) for part in parts]
        if parts:
            return [_Step(part) for part in parts]
        if message.photo is not None:
            return Outcome(Status.OK, "photo skipped: PUBLIC_BASE_URL is not set")
        return Outcome(Status.BAD_CONTENT, "empty message")

    def _remember(self, key: tuple[str, str], parts_sent: int) -> None:
        self._progress[key] = parts_sent
        self._progress.move_to_end(key)
        while len(self._progress) > 10_000:
            self._progress.popitem(last=False)

    # --- Outcomes -----------------------------------------------------------------------------

    def _outcome(self, exc: ZaloError) -> Outcome:
        code, text = exc.code, exc.description
        detail = f"Zalo {exc.method}: {code if code is not None else 'no answer'} {text}"[:500]
        if code is None or code == 408 or code >= 500:
            return Outcome(Status.TRANSIENT, detail)
        if code == 429:
            return Outcome(Status.RETRY_AFTER, detail, retry_after=self.backoff.hit())
        if code == 401:
            return Outcome(Status.AUTH, detail)
        if code in (403, 404) or any(word in text.lower() for word in _GONE_WORDS):
            return Outcome(Status.GONE, detail)
        if 400 <= code < 500:
            return Outcome(Status.BAD_CONTENT, detail)
        return Outcome(Status.TRANSIENT, detail)


def _digest(steps: list[_Step]) -> str:
    hasher = hashlib.sha256()
    for step in steps:
        hasher.update(f"{step.photo_url or ''}\x00{step.text}\x01".encode())
    return hasher.hexdigest()
