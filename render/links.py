"""Addresses of the public web pages and Atom feeds (web/), in one place: the web app builds its
links with these, and chat messages link to the same pages when PUBLIC_BASE_URL is set.

Paths are relative to the web app's root; `public_url` puts PUBLIC_BASE_URL and WEB_PREFIX in
front of them.
"""

from __future__ import annotations

from urllib.parse import urlencode

from config import Settings


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
