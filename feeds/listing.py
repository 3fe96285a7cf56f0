"""HTML listing sources: portals with no RSS (the Fatherland Front's mattran.org.vn), read with CSS
selectors for the item, its title and link, its summary and its time.

Selectors come from a preset in data/listing_presets.json, optionally overridden by the source's
own listing_config. Times are "HH:MM DD/MM/YYYY" or relative ("15 phút trước", "2 giờ trước",
"3 ngày trước", "hôm nay", "hôm qua"), always in local time. Paging is `?page=N`: page 1 is
fetched with conditional GET, pages 2..`pages` plainly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

from feeds.charset import decode
from feeds.dates import parse_date
from feeds.errors import FeedError
from feeds.parse import RawEntry
from vntext import fold

PRESETS_FILE = Path(__file__).resolve().parent.parent / "data" / "listing_presets.json"
MAX_PAGES = 10

_RELATIVE = re.compile(r"(\d+)\s*(giay|phut|gio|ngay|tuan)\s*(?:truoc|qua)")
_UNITS = {"giay": "seconds", "phut": "minutes", "gio": "hours", "ngay": "days", "tuan": "weeks"}
_CLOCK = re.compile(r"(\d{1,2})[:h](\d{2})")


@dataclass(frozen=True)
class ListingSpec:
    item: str
    link: str
    title: str = ""  # defaults to the link's text
    summary: str = ""
    time: str = ""
    page_param: str = "page"
    pages: int = 1
    base_url: str = ""  # resolves relative links when the page is read from a file


@lru_cache(maxsize=1)
def presets() -> dict[str, ListingSpec]:
    data = json.loads(PRESETS_FILE.read_text(encoding="utf-8"))
    return {name: _spec(values) for name, values in data.items()}


def _spec(values: dict[str, Any]) -> ListingSpec:
    known = {f.name for f in fields(ListingSpec)}
    return ListingSpec(**{k: v for k, v in values.items() if k in known})


def listing_spec(preset: str | None, config: dict[str, Any] | None = None) -> ListingSpec:
    """The selectors for a listing source; KeyError for an unknown preset, ValueError when
    neither a preset nor an item and link selector is given."""
    config = dict(config or {})
    if preset:
        spec = presets()[preset]
        known = {f.name for f in fields(ListingSpec)}
        spec = replace(spec, **{k: v for k, v in config.items() if k in known})
    elif config.get("item") and config.get("link"):
        spec = _spec(config)
    else:
        raise ValueError("a listing needs a preset or at least 'item' and 'link' selectors")
    return replace(spec, pages=max(1, min(int(spec.pages), MAX_PAGES)))


def page_url(url: str, spec: ListingSpec, page: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k != spec.page_param]
    if page > 1:
        query.append((spec.page_param, str(page)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def parse_listing_time(text: str, now: datetime, local: tzinfo) -> datetime | None:
    """A listing's time, absolute or relative to `now`, in UTC."""
    folded = fold(text)
    if not folded:
        return None
    if match := _RELATIVE.search(folded):
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return now - timedelta(**{unit: amount})
    if "vua xong" in folded or "vua dang" in folded:
        return now
    for word, days in (("hom nay", 0), ("hom qua", 1)):
        if word in folded:
            day = now.astimezone(local) - timedelta(days=days)
            if clock := _CLOCK.search(folded):
                try:
                    day = day.replace(hour=int(clock.group(1)), minute=int(clock.group(2)),
                                      second=0, microsecond=0)
                except ValueError:
                    pass
            return day.astimezone(now.tzinfo)
    return parse_date(text, local, now)


def parse_listing(body: bytes, *, spec: ListingSpec, content_type: str | None, now: datetime,
                  local: tzinfo) -> list[RawEntry]:
    """The listing's items; FeedError when the selectors find none (the layout changed)."""
    text, _ = decode(body, content_type)
    tree = LexborHTMLParser(text)
    nodes = tree.css(spec.item)
    if not nodes:
        raise FeedError(f"no items match the listing selector {spec.item!r}"
                        " (has the page layout changed?)")
    entries = []
    for node in nodes:
        link_node = node.css_first(spec.link)
        href = (link_node.attributes.get("href") or "") if link_node is not None else ""
        if not href:
            continue
        title_node = node.css_first(spec.title) if spec.title else link_node
        summary_node = node.css_first(spec.summary) if spec.summary else None
        time_node = node.css_first(spec.time) if spec.time else None
        time_text = time_node.text(separator=" ") if time_node is not None else ""
        if time_node is not None and not time_text.strip():
            time_text = time_node.attributes.get("datetime") or ""
        entries.append(RawEntry(
            title=title_node.text(separator=" ") if title_node is not None else "",
            link=href,
            summary=(summary_node.html or "") if summary_node is not None else "",
            published=time_text or None,
            published_at=parse_listing_time(time_text, now, local) if time_text else None,
        ))
    return entries
