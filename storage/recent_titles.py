"""Recognise a story another outlet republishes under its own URL ("... (Theo Báo Lào Cai)").

Two items are copies when they come from different sources, were published within three days of
each other, and their folded titles, with any attribution tail removed, are near-identical: the
Dice coefficient of their word sets is at least 0.9 (one changed word in ten, or one added word
in nine). Titles under six syllables are never matched: too many short titles are alike.

The items of the last few days are kept in memory as an inverted index (word → item ids), filled
from the database and topped up from it before each store, so copies stored by another process
are seen too. A lookup only scans the postings of the title's rarest words: a title that shares
the required share of words must share at least one of them (pigeonhole).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Item

WINDOW = timedelta(days=3)
THRESHOLD = 0.9
MIN_WORDS = 6
_KEEP = WINDOW + timedelta(days=1)  # items published this long ago can still be matched

# Attribution tails, on folded text: "(Theo Báo Lào Cai)", "- Báo Lào Cai", "theo TTXVN".
# "theo báo cáo" ("according to the report") is ordinary text, not an attribution.
_OUTLET = (r"(?:bao(?!\s+cao)|bao dien tu|tap chi|ttxvn|vna|cong thong tin|dai phat thanh"
           r"|dai truyen hinh|vtv|vov|nguon)")
_TAILS = (
    re.compile(r"\s*[\(\[]\s*(?:theo|nguon)\b[^\)\]]*[\)\]]\s*$"),
    re.compile(r"\s*[-–—|:]\s*(?:theo\s+)?" + _OUTLET + r"\b[^-–—|:]*$"),
    re.compile(r"\s+theo\s+" + _OUTLET + r"\b.*$"),
)
_WORD = re.compile(r"\w+")


def title_key(folded_title: str) -> str:
    """The words of a folded title (vntext.fold) without its attribution tail: what copies
    share."""
    key = folded_title
    for _ in range(2):  # "... - Báo X (Theo TTXVN)" carries two tails
        before = key
        for tail in _TAILS:
            key = tail.sub("", key)
        if key == before:
            break
    return " ".join(_WORD.findall(key))


@dataclass(slots=True)
class _Seen:
    root: int  # the first copy's id (itself when it is the first)
    source_id: int
    published_at: datetime
    words: frozenset[str]


class RecentTitles:
    def __init__(self) -> None:
        self._seen: dict[int, _Seen] = {}
        self._postings: dict[str, set[int]] = defaultdict(set)
        self._last_id = 0
        self._last_evict: datetime | None = None

    def __len__(self) -> int:
        return len(self._seen)

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Take in items stored since the last refresh (by any process) and forget old ones."""
        cutoff = now - _KEEP
        rows = await session.execute(
            select(Item.id, Item.source_id, Item.duplicate_of, Item.published_at, Item.title_fold)
            .where(Item.id > self._last_id, Item.published_at >= cutoff)
            .order_by(Item.id)
        )
        for item_id, source_id, duplicate_of, published, key in rows:
            self.add(item_id, duplicate_of or item_id, source_id, published, key)
        if self._last_evict is None or now - self._last_evict > timedelta(hours=1):
            self._evict(cutoff)
            self._last_evict = now

    def add(self, item_id: int, root: int, source_id: int, published_at: datetime,
            key: str) -> None:
        self._last_id = max(self._last_id, item_id)
        words = frozenset(key.split())
        if len(words) < MIN_WORDS or item_id in self._seen:
            return
        self._seen[item_id] = _Seen(root, source_id, published_at, words)
        for word in words:
            self._postings[word].add(item_id)

    def first_copy(self, key: str, source_id: int, published_at: datetime) -> int | None:
        """The id of the first copy of this title from another source, if there is one."""
        words = frozenset(key.split())
        if len(words) < MIN_WORDS:
            return None
        need = math.ceil(THRESHOLD * len(words) / (2 - THRESHOLD) - 1e-9)
        rarest = sorted(words, key=lambda w: len(self._postings.get(w, ())))
        candidates: set[int] = set()
        for word in rarest[: len(words) - need + 1]:
            candidates.update(self._postings.get(word, ()))
        best: int | None = None
        for item_id in candidates:
            seen = self._seen[item_id]
            if seen.source_id == source_id or abs(seen.published_at - published_at) > WINDOW:
                continue
            overlap = len(words & seen.words)
            if 2 * overlap >= THRESHOLD * (len(words) + len(seen.words)):
                best = seen.root if best is None else min(best, seen.root)
        return best

    def _evict(self, cutoff: datetime) -> None:
        for item_id in [i for i, seen in self._seen.items() if seen.published_at < cutoff]:
            for word in self._seen.pop(item_id).words:
                posting = self._postings[word]
                posting.discard(item_id)
                if not posting:
                    del self._postings[word]
