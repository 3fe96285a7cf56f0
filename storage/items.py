"""Store normalised entries once each.

An entry is already known when its canonical URL is stored (from any source) or its source has
stored its GUID; both hold within one batch too (feeds repeat GUIDs), and the unique constraints
back them up against a concurrent writer (ON CONFLICT DO NOTHING). A republished copy from
another outlet is stored, searchable, with `duplicate_of` pointing at the first copy
(storage.recent_titles). The batch goes in as one multi-row INSERT ... RETURNING.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import upsert_insert
from storage.models import Item
from storage.recent_titles import RecentTitles, title_key
from vntext import fold

_CHUNK = 500  # bound on parameters per IN (...) query
_ITEMS = Item.__table__
_MAX_TITLE_FOLD = 1024


@dataclass(frozen=True, slots=True)
class EntryToStore:
    """An entry to store, as the store needs it (ingest builds it from what feeds/ read)."""

    guid: str  # the source's own id, or the canonical URL when it gives none
    url: str  # canonical: what dedup compares across sources
    title: str
    summary: str
    published_at: datetime  # UTC


@dataclass(slots=True)
class StoredItem:
    id: int
    title: str
    summary: str
    duplicate_of: int | None
    backlog: bool

    @property
    def deliverable(self) -> bool:
        return not self.backlog and self.duplicate_of is None


@dataclass(slots=True)
class StoreResult:
    new: list[StoredItem] = field(default_factory=list)
    known: int = 0  # entries that were already stored

    @property
    def deliverable_ids(self) -> list[int]:
        return [item.id for item in self.new if item.deliverable]

    @property
    def republished(self) -> int:
        return sum(1 for item in self.new if item.duplicate_of is not None)


def content_hash(title: str, summary: str) -> str:
    return hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()


async def _known(session: AsyncSession, source_id: int, entries: list[EntryToStore]
                 ) -> tuple[set[str], set[str]]:
    """The canonical URLs stored by any source, and the GUIDs stored by this one."""
    known_urls: set[str] = set()
    known_guids: set[str] = set()
    for start in range(0, len(entries), _CHUNK):
        chunk = entries[start:start + _CHUNK]
        rows = await session.execute(
            select(Item.canonical_url, Item.guid, Item.source_id).where(
                Item.canonical_url.in_([e.url for e in chunk])
                | ((Item.source_id == source_id) & Item.guid.in_([e.guid for e in chunk]))))
        for url, guid, owner in rows:
            known_urls.add(url)
            if owner == source_id:
                known_guids.add(guid)
    return known_urls, known_guids


async def store_entries(session: AsyncSession, *, source_id: int, entries: list[EntryToStore],
                        fetched_at: datetime, backlog: bool, titles: RecentTitles,
                        classified_at: datetime | None = None) -> StoreResult:
    """Insert the entries not yet stored; the caller commits. `titles` must be refreshed by
    the caller in the same critical section, so that copies stored just before are seen.
    `classified_at` is for a caller that labels the new items in the same transaction."""
    result = StoreResult()
    fresh: dict[str, EntryToStore] = {}
    guids: set[str] = set()
    for entry in entries:  # a feed may list an item twice, or reuse a GUID
        if entry.url in fresh or entry.guid in guids:
            result.known += 1
            continue
        fresh[entry.url] = entry
        guids.add(entry.guid)
    if not fresh:
        return result
    known_urls, known_guids = await _known(session, source_id, list(fresh.values()))
    rows: list[dict[str, Any]] = []
    for url, entry in fresh.items():
        if url in known_urls or entry.guid in known_guids:
            result.known += 1
            continue
        folded_title = fold(entry.title)
        key = title_key(folded_title)[:_MAX_TITLE_FOLD]
        rows.append({
            "source_id": source_id,
            "canonical_url": url,
            "guid": entry.guid,
            "title": entry.title,
            "summary": entry.summary,
            "published_at": entry.published_at,
            "fetched_at": fetched_at,
            "content_hash": content_hash(entry.title, entry.summary),
            "title_fold": key,
            # fold() works word by word, so the title's fold is reused
            "search_text": f"{folded_title} {fold(entry.summary)}".rstrip(),
            "duplicate_of": titles.first_copy(key, source_id, entry.published_at),
            "backlog": backlog,
            "classified_at": classified_at,
        })
    if not rows:
        return result
    inserted = await session.execute(
        upsert_insert(session, _ITEMS)
        .on_conflict_do_nothing()
        .returning(_ITEMS.c.id, _ITEMS.c.canonical_url),
        rows,
    )
    ids = {url: item_id for item_id, url in inserted}
    for row in rows:
        item_id = ids.get(row["canonical_url"])
        if item_id is None:  # another writer stored it first
            result.known += 1
            continue
        result.new.append(StoredItem(item_id, row["title"], row["summary"],
                                     row["duplicate_of"], backlog))
    result.new.sort(key=lambda item: item.id)
    return result
