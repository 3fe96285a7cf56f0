"""Addresses of the public web pages and Atom feeds (web/), in one place: the web app builds its
links with these, and chat messages link to the same pages when PUBLIC_BASE_URL is set.

Paths are relative to the web app's root; `public_url` puts PUBLIC_BASE_URL and WEB_PREFIX in
front of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from config import Settings
from render.texts import t
from storage.views import ItemView


def home_path() -> str:
    return "/"


def province_path(code: str) -> str:
    return f"/p/{code}"


def report_path(code: str) -> str:
    return f"/p/{code}/report"


def chart_path(code: str) -> str:
    return f"/p/{code}/report.png"


def topic_path(slug: str) -> str:
    return f"/t/{slug}"


def feed_path(province: str | None = None, topic: str | None = None) -> str:
    """The Atom feed of a province, a topic, or a province × topic."""
    if province and topic:
        return f"/atom/p/{province}/t/{topic}"
    if province:
        return f"/atom/p/{province}"
    if topic:
        return f"/atom/t/{topic}"
    raise ValueError("a feed is about a province, a topic or both")


def page_path(province: str | None = None, topic: str | None = None, query: str = "") -> str:
    """The page that lists what a province, a topic or both hold, or a search in a province."""
    if province:
        return with_query(province_path(province), topic=topic, q=query)
    if topic:
        return topic_path(topic)
    return home_path()


def with_query(path: str, **params: str | int | None) -> str:
    """`path` with the non-empty `params` as its query string."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return path + (("&" if "?" in path else "?") + urlencode(kept) if kept else "")


def public_url(settings: Settings, path: str) -> str | None:
    """The address people open for `path`, or None when PUBLIC_BASE_URL is not set."""
    if not settings.public_base_url:
        return None
    return settings.public_base_url.rstrip("/") + settings.web_prefix + path


def page_for(items: Iterable[ItemView]) -> str:
    """The page that lists what `items` have in common: their one province (with their one topic
    when they share it), else their one topic, else the home page with every province."""
    listed = list(items)
    shared_provinces = set.intersection(*(set(i.provinces) for i in listed)) if listed else set()
    shared_topics = set.intersection(*(set(i.topics) for i in listed)) if listed else set()
    # Most relevant first: the first item's order decides between shared labels.
    province = next((c for c in listed[0].provinces if c in shared_provinces), None) \
        if listed else None
    topic = next((s for s in listed[0].topics if s in shared_topics), None) if listed else None
    return page_path(province, topic)


def page_line(settings: Settings, lang: str, path: str) -> str | None:
    """The closing line of a digest or a search in chat, linking to `path` on the web; None
    when PUBLIC_BASE_URL is not set."""
    url = public_url(settings, path)
    return None if url is None else t(lang, "web_page_link", url=url)
