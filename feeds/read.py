"""Read one source: fetch it (or take bytes from a file), parse it as a feed or a listing, and
normalise its entries. Used by the ingest handler and by `sources test`; stores nothing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from feeds.errors import FeedError
from feeds.fetch import Fetcher, FetchResult
from feeds.html_text import clean_title
from feeds.listing import ListingSpec, page_url, parse_listing
from feeds.normalize import Entry, normalize_entries
from feeds.parse import parse_feed

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReadResult:
    fetch: FetchResult
    entries: list[Entry] = field(default_factory=list)
    error: str | None = None  # why the source could not be read, fetch or parse
    title: str = ""  # the feed's own title, cleaned; "" for a listing page

    @property
    def status(self) -> str:
        """One of "ok", "unchanged" and "error"."""
        return "error" if self.error else self.fetch.status


def _parse(body: bytes, *, spec: ListingSpec | None, content_type: str | None, url: str,
           fetched_at: datetime, local: tzinfo) -> tuple[str, list[Entry]]:
    """The feed's title ("" for a listing) and the body's normalised entries."""
    title = ""
    if spec is None:
        feed = parse_feed(body, content_type)
        raws, base, title = feed.entries, url or feed.link, clean_title(feed.title)
    else:
        raws = parse_listing(body, spec=spec, content_type=content_type, now=fetched_at,
                             local=local)
        base = url or spec.base_url
    return title, normalize_entries(raws, base_url=base, fetched_at=fetched_at, local=local)


def parse_body(body: bytes, *, spec: ListingSpec | None, content_type: str | None, url: str,
               fetched_at: datetime, local: tzinfo) -> list[Entry]:
    """Normalised entries of a feed or listing body; FeedError when it is unusable."""
    return _parse(body, spec=spec, content_type=content_type, url=url, fetched_at=fetched_at,
                  local=local)[1]


def _parse_pages(pages: list[FetchResult], spec: ListingSpec | None, fetched_at: datetime,
                 local: tzinfo) -> tuple[str, list[Entry]]:
    """The first page's feed title and every page's entries."""
    title, entries = "", []
    for number, page in enumerate(pages):
        page_title, page_entries = _parse(page.body, spec=spec, content_type=page.content_type,
                                          url=page.url, fetched_at=fetched_at, local=local)
        title = page_title if number == 0 else title
        entries.extend(page_entries)
    return title, entries


async def read_source(fetcher: Fetcher, url: str, *, spec: ListingSpec | None,
                      fetched_at: datetime, local: tzinfo, etag: str | None = None,
                      last_modified: str | None = None) -> ReadResult:
    """Fetch and parse; never raises for anything the source does."""
    first = await fetcher.fetch(url, etag=etag, last_modified=last_modified)
    if first.status != "ok":
        return ReadResult(first, error=first.error)
    pages = [first]
    if spec is not None:  # listing pages after the first are fetched plainly
        for number in range(2, spec.pages + 1):
            page = await fetcher.fetch(page_url(first.url, spec, number))
            if page.status != "ok":
                log.warning("listing %s: page %d skipped: %s", url, number,
                            page.error or "empty")
                break
            pages.append(page)
    try:
        # Parsing is CPU work: off the event loop, so chat handling stays responsive.
        title, entries = await asyncio.to_thread(_parse_pages, pages, spec, fetched_at, local)
    except FeedError as exc:
        return ReadResult(first, error=exc.reason)
    return ReadResult(first, entries, title=title)
