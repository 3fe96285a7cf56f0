"""From a raw entry (as the source wrote it) to an Entry: the form the store and everything after
it can rely on. Text is normalised (vntext), the summary is plain text, the link is absolute and
canonical, and the published time is an aware UTC datetime."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from feeds.dates import published_at as resolve_published
from feeds.html_text import clean_title, html_to_text
from feeds.parse import RawEntry
from feeds.urls import canonical_url, is_http_url, resolve

MAX_GUID_CHARS = 2048
MAX_TITLE_CHARS = 1000


@dataclass(slots=True)
class Entry:
    guid: str  # the source's own id, or the canonical URL when it gives none
    url: str  # canonical: what dedup compares across sources
    title: str
    summary: str
    published_at: datetime  # UTC
    dated: bool  # False when the source gave no readable date and the fetch time stands in


def normalize_entry(raw: RawEntry, *, base_url: str, fetched_at: datetime,
                    local: tzinfo) -> Entry | None:
    """The normalised entry, or None when it has no usable link or no text at all."""
    link = resolve(base_url, raw.link)
    if not is_http_url(link):
        return None
    url = canonical_url(link)
    title = clean_title(raw.title)[:MAX_TITLE_CHARS]
    summary = html_to_text(raw.summary)
    if not title:
        if not summary:
            return None
        title = summary[:120]
    guid = (raw.guid or "").strip()
    # A GUID that is a link is compared in canonical form, so a tracking parameter added to it
    # does not make the same item new again.
    guid = canonical_url(guid) if is_http_url(guid) else guid
    if raw.published_at is not None:
        when, dated = raw.published_at, True
    else:
        when, dated = resolve_published(raw.published, local, fetched_at)
    return Entry(guid=(guid or url)[:MAX_GUID_CHARS], url=url, title=title, summary=summary,
                 published_at=when, dated=dated)


def normalize_entries(raws: list[RawEntry], *, base_url: str, fetched_at: datetime,
                      local: tzinfo) -> list[Entry]:
    entries = []
    for raw in raws:
        entry = normalize_entry(raw, base_url=base_url, fetched_at=fetched_at, local=local)
        if entry is not None:
            entries.append(entry)
    return entries
