"""Atom feeds of classified items (feedgen): per province, per topic, per province × topic.

Each entry carries its title, summary, original link, source (as its author) and date, and its
labels as Atom categories (scheme …/p with the province's code as term and its name as label,
…/t with the topic's slug and name). The feed links to its web page, which pages further back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from catalog import province_name, topic_name
from render.links import feed_path, page_path, with_query
from render.texts import t
from storage.views import ItemView


@dataclass(frozen=True)
class AtomFeed:
    body: bytes
    etag: str  # quoted, as the header carries it
    updated: datetime  # the newest entry's date: Last-Modified


def feed_title(province: str | None, topic: str | None, lang: str) -> str:
    parts = [province_name(province) if province else "", topic_name(topic, lang) if topic else ""]
    return "Loa · " + " · ".join(p for p in parts if p)


def build_feed(items: Sequence[ItemView], *, province: str | None, topic: str | None,
               lang: str, base: str, epoch: datetime) -> AtomFeed:
    """The feed of `items` (newest first). `base` is the absolute URL of the web app's root
    (no trailing slash); `epoch` dates a feed without entries."""
    self_url = base + with_query(feed_path(province, topic), lang="en" if lang == "en" else None)
    page_url = base + with_query(page_path(province, topic), lang="en" if lang == "en" else None)
    updated = max((i.published_at for i in items), default=epoch).astimezone(UTC)
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(feed_title(province, topic, lang))
    fg.subtitle(str(t(lang, "web_feed_subtitle", count=len(items))))
    fg.link(href=self_url, rel="self", type="application/atom+xml")
    fg.link(href=page_url, rel="alternate", type="text/html")
    fg.language(lang)
    fg.updated(updated)
    fg.generator("Loa")
    # feedgen prepends each entry: add the oldest first so the newest comes first in the file.
    for item in reversed(items):
        entry = fg.add_entry()
        entry.id(item.url)  # unique among items, and kept when the site moves
        entry.title(item.title or item.url)
        entry.link(href=item.url, rel="alternate")
        if item.summary:
            entry.summary(item.summary)
        published = item.published_at.astimezone(UTC)
        entry.published(published)
        entry.updated(published)
        if item.source_name:  # the outlet that published it (feedgen writes no <source>)
            entry.author(name=item.source_name)
        for code in item.provinces:
            entry.category(term=code, label=province_name(code), scheme=f"{base}/p")
        for slug in item.topics:
            entry.category(term=slug, label=topic_name(slug, lang), scheme=f"{base}/t")
    body = fg.atom_str(pretty=False)
    return AtomFeed(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"', updated)

