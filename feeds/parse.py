"""Parse RSS 0.9x/1.0/2.0 and Atom with feedparser, after refusing what must not be parsed.

Refused before parsing: an HTML page where a feed was expected, and any DOCTYPE that declares
entities (entity-expansion bombs). Bytes are re-labelled as UTF-8 first (feeds.charset), so
feedparser never guesses an encoding. HTML sanitising and relative-URI rewriting are off: we keep
only plain text (feeds.html_text) and resolve the one link we keep ourselves, which is faster.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import feedparser

from feeds.charset import to_utf8
from feeds.errors import FeedError

_HTML_START = re.compile(rb"^(?:\s|<\?xml[^>]*>|<!--.*?-->)*<(?:!doctype\s+html|html|head|body)\b",
                         re.I | re.S)
# A DOCTYPE can only follow the prolog's comments, processing instructions and spaces; matched from
# the start however long they run (a DOCTYPE after 64 KB of comment is still found).
_PROLOG_DOCTYPE = re.compile(rb"(?:\s++|<\?.*?\?>|<!--.*?-->)*+<!DOCTYPE\b", re.I | re.S)
_ENTITY_DECL = re.compile(rb"<!ENTITY\b", re.I)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_HEADERS = {"content-type": "application/xml; charset=utf-8"}


@dataclass(slots=True)
class RawEntry:
    """One item as the source wrote it, before normalisation."""

    title: str
    link: str
    summary: str = ""  # HTML or text
    published: str | None = None  # the date string as written
    guid: str | None = None
    published_at: datetime | None = None  # already resolved (listing pages' relative times)


@dataclass(slots=True)
class ParsedFeed:
    title: str = ""
    link: str = ""
    entries: list[RawEntry] = field(default_factory=list)


def looks_like_html(body: bytes) -> bool:
    return _HTML_START.match(body[:4096]) is not None


def _declares_entities(body: bytes) -> bool:
    """True when the prolog has a DOCTYPE whose internal subset declares entities."""
    doctype = _PROLOG_DOCTYPE.match(body)
    if doctype is None:
        return False
    root = _FIRST_ELEMENT.search(body, doctype.end())
    return _ENTITY_DECL.search(body, doctype.end(), root.start() if root else len(body)) is not None


def _first_link(entry: Any) -> str:
    link = entry.get("link")
    if link:
        return str(link)
    for candidate in entry.get("links") or ():
        if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
            return str(candidate["href"])
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else ""


def _summary(entry: Any) -> str:
    summary = entry.get("summary")
    if summary:
        return str(summary)
    for content in entry.get("content") or ():
        if content.get("value"):
            return str(content["value"])
    return ""


def parse_feed(body: bytes, content_type: str | None = None) -> ParsedFeed:
    """The feed's entries; FeedError with a readable reason when the bytes are not a usable feed."""
    if not body.strip():
        raise FeedError("the body is empty")
    body = to_utf8(body, content_type)
    if looks_like_html(body):
        raise FeedError("the server sent an HTML page where an RSS or Atom feed was expected")
    if _declares_entities(body):
        raise FeedError(
            "refused: the feed declares XML entities in a DOCTYPE (entity-expansion risk)"
        )
    parsed = feedparser.parse(io.BytesIO(body), response_headers=_HEADERS,
                              sanitize_html=False, resolve_relative_uris=False)
    entries = parsed.entries
    version = parsed.get("version")  # absent, not empty, when feedparser found no root at all
    if not entries:
        if not version and not body.lstrip().startswith(b"<"):
            kind = f" (Content-Type {content_type})" if content_type else ""
            raise FeedError(f"not an RSS or Atom feed{kind}: the body is not XML")
        if parsed.bozo:
            problem = parsed.get("bozo_exception")
            raise FeedError(f"malformed XML, no items could be read: {problem}")
        if not version:
            raise FeedError("not an RSS or Atom feed: no feed elements found")
    feed = parsed.feed
    result = ParsedFeed(title=str(feed.get("title") or ""), link=str(feed.get("link") or ""))
    for entry in entries:
        result.entries.append(RawEntry(
            title=str(entry.get("title") or ""),
            link=_first_link(entry),
            summary=_summary(entry),
            published=entry.get("published") or entry.get("updated") or entry.get("created"),
            guid=entry.get("id") or None,
        ))
    return result
