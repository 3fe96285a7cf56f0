"""The public pages and Atom feeds: route handlers of one aiohttp application, `pages_app`.

Routes (relative to the app's root, which may sit under a path prefix):
- `/`: the 34 provinces with their items of the last 7 days;
- `/p/<code>`: a province's newest items grouped by topic, `?topic=` filter, `?page=`, and
  `?q=` search (services.search, the chat's /search, within the province);
- `/p/<code>/report` and its chart `/p/<code>/report.png`: the officials' weekly report;
- `/t/<slug>`: a topic's newest items across provinces;
- `/atom/p/<code>`, `/atom/t/<slug>`, `/atom/p/<code>/t/<slug>`: Atom feeds (web.atom).
Every page takes `?lang=en`. Read-only and public: only items and their labels are shown.

Bad input never reaches a query: an unknown province or topic in the path is a 404 page, a bad
parameter a 400 page, and a request that runs past WEB_TIMEOUT_SECONDS a 503 page; anything
unexpected is logged and answered by a 500 page, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

import catalog
from delivery.report import build_report
from render import links
from render.compose import local_time, truncate
from render.texts import LANGS, t
from runtime import App
from services import browse, limits
from services import search as search_service
from services.errors import ServiceError
from storage.views import ItemView
from web.atom import AtomFeed, build_feed
from web.server import Mount

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
APP_KEY = web.AppKey("loa_app", App)
PREFIX_KEY = web.AppKey("loa_prefix", str)
CHARTS_KEY = web.AppKey("loa_charts", dict)
COUNTS_KEY = web.AppKey("loa_counts", dict)
FEEDS_KEY = web.AppKey("loa_feeds", dict)
# The home page's 7-day counts change with each poll at most: computed once a minute.
COUNTS_TTL = 60.0
# How long browsers and proxies may keep what they got: pages change with every poll.
PAGE_CACHE = "public, max-age=60"
FEED_CACHE = "public, max-age=300"
# A built feed serves again while no item has come since and for at most FEED_TTL seconds (a
# label changed on an old item shows within that), so a repeated or conditional GET costs one
# primary-key lookup. FEEDS_KEPT bounds the memory: the Host header is part of the key.
FEED_TTL = 60.0
FEEDS_KEPT = 1024
CHART_TTL = timedelta(minutes=10)
# The header a reverse proxy that strips a path prefix uses to name it; the same shape as
# WEB_PREFIX, anything else is ignored.
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")
SUMMARY_UNITS = 300
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Links follow X-Forwarded-Prefix: a shared cache must not serve one prefix's page for
    # another's.
    "Vary": "X-Forwarded-Prefix",
    # No script at all; styles and images from here only; forms submit only here.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(default=True), trim_blocks=True,
                   lstrip_blocks=True)


class BadRequest(Exception):
    """A parameter out of its bounds: a 400 page."""


@dataclass(frozen=True)
class Shown:
    """An item as a page shows it: plain text, escaped by the template."""

    title: str
    url: str
    summary: str
    source: str
    when: str
    labels: list[str]


@dataclass(frozen=True)
class View:
    """What every template gets: the language, texts and links."""

    lang: str
    prefix: str  # the app's root as the browser sees it, "" or "/loa"
    path: str  # this page's path, for the language switch

    def t(self, key: str, **params: object) -> Markup:
        # The catalogue escapes the parameters and its templates are trusted markup.
        return Markup(t(self.lang, key, **params))

    def url(self, path: str, **params: str | int | None) -> str:
        """A link within the app, keeping the page's language."""
        return self.prefix + links.with_query(path, **params,
                                              lang="en" if self.lang == "en" else None)

    def other_lang(self) -> str:
        return self.prefix + links.with_query(self.path, lang="en" if self.lang == "vi" else None)


def _lang(request: web.Request) -> str:
    lang = request.query.get("lang", "vi")
    if lang not in LANGS:
        raise BadRequest("lang")
    return lang


def _page(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= browse.MAX_PAGE:
        raise BadRequest("page")
    return int(raw)


def _topic(request: web.Request) -> str | None:
    slug = request.query.get("topic") or None
    if slug is not None and slug not in catalog.topics():
        raise BadRequest("topic")
    return slug


def _query(request: web.Request) -> str:
    try:
        return limits.check_text(request.query.get("q", ""), limits.MAX_QUERY_CHARS).strip()
    except ServiceError:
        raise BadRequest("q") from None


def _province(request: web.Request) -> str:
    code = request.match_info["code"]
    if code not in catalog.provinces():
        raise web.HTTPNotFound()
    return code


def _topic_in_path(request: web.Request) -> str:
    slug = request.match_info["slug"]
    if slug not in catalog.topics():
        raise web.HTTPNotFound()
    return slug


def _prefix(request: web.Request) -> str:
    forwarded = request.headers.get("X-Forwarded-Prefix", "").rstrip("/")
    return forwarded if _PREFIX.fullmatch(forwarded) else request.app[PREFIX_KEY]


def _view(request: web.Request, lang: str) -> View:
    prefix = _prefix(request)
    own = request.app[PREFIX_KEY]
    path = request.path.removeprefix(own) or "/" if own else request.path
    params = {k: v for k, v in request.query.items() if k != "lang"}
    return View(lang, prefix, links.with_query(path, **params))


def _shown(item: ItemView, lang: str, app: App) -> Shown:
    names = [catalog.province_name(code) for code in item.provinces]
    names += [catalog.topic_name(slug, lang) for slug in item.topics]
    return Shown(item.title or item.url, item.url, truncate(item.summary, SUMMARY_UNITS),
                 item.source_name, local_time(item.published_at, app.settings.tz), names)


def _render(template: str, view: View, status: int = 200,
            **context: Any) -> web.Response:
    body = _env.get_template(template).render(v=view, **context)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    if status == 200:
        response.headers["Cache-Control"] = PAGE_CACHE
    return response


def _app(request: web.Request) -> App:
    return request.app[APP_KEY]


def _now(app: App) -> datetime:
    return app.clock().astimezone(UTC)


async def _province_counts(request: web.Request) -> dict[str, int]:
    """Items of the last 7 days per province, remembered for COUNTS_TTL seconds."""
    cache: dict[str, tuple[float, dict[str, int]]] = request.app[COUNTS_KEY]
    now = time.monotonic()
    kept = cache.get("provinces")
    if kept is not None and kept[0] > now:
        return kept[1]
    app = _app(request)
    counts = await browse.province_counts(app, _now(app) - browse.WEEK)
    cache["provinces"] = (now + COUNTS_TTL, counts)
    return counts


async def home(request: web.Request) -> web.Response:
    view = _view(request, _lang(request))
    counts = await _province_counts(request)
    rows = [(p, counts.get(code, 0)) for code, p in catalog.provinces().items()]
    return _render("home.html", view, provinces=rows, links=links)


async def province(request: web.Request) -> web.Response:
    code = _province(request)
    view = _view(request, _lang(request))
    topic, page, query = _topic(request), _page(request), _query(request)
    app = _app(request)
    found: search_service.SearchPage | None = None
    if query:
        found = await search_service.search(app, query, page, browse.PER_PAGE, provinces=(code,),
                                            topics=(topic,) if topic else ())
        items, has_next = found.items, found.page < min(found.pages, browse.MAX_PAGE)
        page = found.page
    else:
        listed = await browse.newest(app, province=code, topic=topic, page=page)
        items, has_next = listed.items, listed.has_next
    groups: dict[str, list[Shown]] = {}
    for item in items:
        main = topic or (item.topics[0] if item.topics else "")
        groups.setdefault(main, []).append(_shown(item, view.lang, app))
    return _render(
        "province.html", view, province=catalog.provinces()[code], topic=topic,
        query=query, found=found, page=page, has_next=has_next, links=links,
        groups=[(catalog.topic_name(slug, view.lang) if slug else None, shown)
                for slug, shown in groups.items()],
        topics=[(slug, catalog.topic_name(slug, view.lang)) for slug in catalog.topics()],
    )


async def topic_page(request: web.Request) -> web.Response:
    slug = _topic_in_path(request)
    view = _view(request, _lang(request))
    page = _page(request)
    app = _app(request)
    listed = await browse.newest(app, topic=slug, page=page)
    return _render("topic.html", view, slug=slug,
                   name=catalog.topic_name(slug, view.lang), page=page, has_next=listed.has_next,
                   items=[_shown(i, view.lang, app) for i in listed.items], links=links)


def _week(app: App) -> tuple[datetime, datetime]:
    # Whole hours, so the chart drawn for a period serves every request within the hour.
    end = _now(app).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - browse.WEEK, end


async def report(request: web.Request) -> web.Response:
    code = _province(request)
    view = _view(request, _lang(request))
    app = _app(request)
    start, end = _week(app)
    built = await build_report(app, [code], start, end, view.lang, chart=False)
    tz = app.settings.tz
    return _render(
        "report.html", view, province=catalog.provinces()[code], links=links,
        total=built.total, start=start.astimezone(tz).strftime("%d/%m/%Y"),
        end=(end - timedelta(seconds=1)).astimezone(tz).strftime("%d/%m/%Y"),
        counts=[(catalog.topic_name(slug, view.lang) if slug else view.t("digest_no_topic"), n)
                for slug, n in built.counts],
    )


async def chart(request: web.Request) -> web.Response:
    code = _province(request)
    lang = _lang(request)
    app = _app(request)
    start, end = _week(app)
    charts: dict[tuple[str, str, datetime], bytes] = request.app[CHARTS_KEY]
    key = (code, lang, end)
    png = charts.get(key)
    if png is None:
        built = await build_report(app, [code], start, end, lang, chart=True)
        if built.png is None:
            raise web.HTTPNotFound()  # no items this week: the page shows no image
        png = built.png
        for old in [k for k in charts if k[2] < end - CHART_TTL]:
            del charts[old]
        charts[key] = png
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "public, max-age=600"})


def _base(request: web.Request) -> str:
    """The app's absolute root, for the feeds' links: PUBLIC_BASE_URL when set, else the address
    the request came to."""
    settings = _app(request).settings
    public = links.public_url(settings, "")
    return public if public is not None else f"{request.scheme}://{request.host}{_prefix(request)}"


async def feed(request: web.Request) -> web.StreamResponse:
    code = _province(request) if "code" in request.match_info else None
    slug = _topic_in_path(request) if "slug" in request.match_info else None
    atom = await _feed(request, code, slug, _lang(request))
    headers = {"ETag": atom.etag, "Last-Modified": _http_date(atom.updated),
               "Cache-Control": FEED_CACHE}
    if _not_modified(request, atom.etag, atom.updated):
        return web.Response(status=304, headers=headers)
    return web.Response(body=atom.body, headers=headers,
                        content_type="application/atom+xml", charset="utf-8")


@dataclass(frozen=True)
class _KeptFeed:
    until: float  # time.monotonic()
    latest: int  # the newest item's id when it was built
    atom: AtomFeed


async def _feed(request: web.Request, province: str | None, topic: str | None,
                lang: str) -> AtomFeed:
    """The feed, built again only when an item came since the last build or FEED_TTL passed."""
    app = _app(request)
    base = _base(request)
    kept: dict[tuple[str | None, str | None, str, str], _KeptFeed] = request.app[FEEDS_KEY]
    key = (province, topic, lang, base)
    latest = await browse.latest_id(app)
    now = time.monotonic()
    hit = kept.get(key)
    if hit is not None and hit.latest == latest and hit.until > now:
        return hit.atom
    items = await browse.feed_items(app, province=province, topic=topic)
    atom = build_feed(items, province=province, topic=topic, lang=lang, base=base,
                      epoch=datetime(2025, 7, 1, tzinfo=UTC))
    kept.pop(key, None)  # re-added last: the dict's order is the builds' order
    kept[key] = _KeptFeed(now + FEED_TTL, latest, atom)
    while len(kept) > FEEDS_KEPT:
        del kept[next(iter(kept))]
    return atom


def _http_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _not_modified(request: web.Request, etag: str, updated: datetime) -> bool:
    """RFC 9110: If-None-Match decides when present; else If-Modified-Since."""
    if "If-None-Match" in request.headers:
        tags = {tag.strip().removeprefix("W/")
                for tag in request.headers["If-None-Match"].split(",")}
        return etag in tags or "*" in tags
    since = request.if_modified_since
    return since is not None and updated.replace(microsecond=0) <= since


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ERRORS: Mapping[int, str] = {400: "web_error_400", 404: "web_error_404", 405: "web_error_405",
                              503: "web_error_503", 500: "web_error_500"}


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bounds every request in time, turns failures into a page in the visitor's language, and
    adds the safety headers."""
    try:
        async with asyncio.timeout(_app(request).settings.web_timeout_seconds):
            response = await handler(request)
    except BadRequest as exc:
        response = _error(request, 400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(request, exc.status if exc.status in _ERRORS else 404, exc.reason)
    except TimeoutError:
        log.warning("web: %s took longer than %ss", request.path,
                    _app(request).settings.web_timeout_seconds)
        response = _error(request, 503, "timeout")
    except Exception:
        log.exception("web: %s failed", request.path)
        response = _error(request, 500, "error")
    response.headers.update(HEADERS)
    return response


def _error(request: web.Request, status: int, reason: str) -> web.Response:
    lang = request.query.get("lang", "vi")
    view = _view(request, lang if lang in LANGS else "vi")
    log.debug("web: %s → %d (%s)", request.path, status, reason)
    response = _render("error.html", view, status=status, message=view.t(_ERRORS[status]),
                       links=links)
    response.headers["Cache-Control"] = "no-store"
    return response


def pages_app(app: App, prefix: str = "") -> web.Application:
    """The pages and feeds as an aiohttp application, mountable with `add_subapp(prefix, …)`;
    `prefix` is where it is mounted, so that its links point there."""
    pages = web.Application()
    _set_up(pages, app, prefix)
    return pages


def mount(app: App) -> Mount:
    """The pages and feeds on WEB_ADDR's server (web.server): under WEB_PREFIX when it is set,
    else at the server's root, beside /healthz and /metrics when METRICS_ADDR is the same."""
    prefix = app.settings.web_prefix

    def add(root: web.Application) -> None:
        if prefix:
            root.add_subapp(prefix, pages_app(app, prefix))
        else:
            _set_up(root, app, "")

    return add


def _set_up(pages: web.Application, app: App, prefix: str) -> None:
    pages.middlewares.append(_guard)
    pages[APP_KEY] = app
    pages[PREFIX_KEY] = prefix.rstrip("/")
    pages[CHARTS_KEY] = {}
    pages[COUNTS_KEY] = {}
    pages[FEEDS_KEY] = {}
    route = pages.router
    route.add_get("/", home)
    route.add_get("/p/{code}", province)
    route.add_get("/p/{code}/report", report)
    route.add_get("/p/{code}/report.png", chart)
    route.add_get("/t/{slug}", topic_page)
    route.add_get("/atom/p/{code}", feed)
    route.add_get("/atom/t/{slug}", feed)
    route.add_get("/atom/p/{code}/t/{slug}", feed)
    route.add_static("/static", HERE / "static")
