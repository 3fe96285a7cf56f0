"""Managing sources: add, list, remove, pause, resume, and a dry run that stores nothing.

Plain async functions shared by the CLI and the chat admin commands. Bad input raises
ServiceError (codes: bad_url, source_refused, bad_province, unknown_preset, source_exists,
source_not_found, source_test_failed); every change is written to the audit log with its actor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import catalog
from classify import Evidence, get_classifier
from classify.query import province_code
from feeds import policy
from feeds.errors import FeedError
from feeds.listing import ListingSpec, listing_spec, presets
from feeds.urls import canonical_url, is_http_url
from runtime import App
from services import audit, demo, limits
from services.errors import Refusal, ServiceError
from storage.models import Item, Source

MAX_URL_CHARS = 2048


@dataclass(frozen=True, slots=True)
class SourceInfo:
    id: int
    url: str
    kind: str
    name: str
    province: str | None
    listing_preset: str | None
    state: str
    paused_reason: str | None
    error_count: int
    last_error: str | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    items: int = 0


@dataclass(frozen=True, slots=True)
class TestedItem:
    title: str
    url: str
    summary: str
    published_at: datetime  # UTC
    published_local: datetime  # in TIMEZONE
    dated: bool  # False: the source gave no date and the fetch time stands in
    provinces: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SourceTest:
    location: str  # the URL or file that was read
    kind: str  # feed | listing
    items: list[TestedItem]
    moved_to: str | None = None  # a permanent redirect's target


def _info(source: Source, items: int = 0) -> SourceInfo:
    return SourceInfo(
        id=source.id, url=source.url, kind=source.kind, name=source.name,
        province=source.province, listing_preset=source.listing_preset, state=source.state,
        paused_reason=source.paused_reason, error_count=source.error_count,
        last_error=source.last_error, last_fetch_at=source.last_fetch_at,
        last_success_at=source.last_success_at, next_check_at=source.next_check_at,
        items=items,
    )


def _clean_url(app: App, url: str) -> str:
    """The canonical form of an http(s) URL the source policy allows. Only what needs no DNS is
    checked here (addresses, localhost); names are checked on every fetch, after resolution."""
    url = (url or "").strip()
    if limits.has_bad_characters(url) or not is_http_url(url) or len(url) > MAX_URL_CHARS:
        raise ServiceError(Refusal.BAD_URL, f"not an http(s) URL: '{limits.shown(url, 200)}'",
                           url=limits.shown(url, 200))
    clean = canonical_url(url)
    if not app.settings.allow_private_sources:
        try:
            policy.check_url(clean)
        except policy.SourceRefused as exc:
            raise ServiceError(Refusal.SOURCE_REFUSED, exc.reason, url=clean,
                               detail=exc.reason) from None
    return clean


def _province_code(value: str | None) -> str | None:
    """A current province code from what `classify.query.province_code` reads: a code ("1",
    "01", "96"), a name or a slug ("Hải Phòng", "hai phong", "hai-phong")."""
    if value is None or not value.strip():
        return None
    code = province_code(value)
    if code is None:
        raise ServiceError(Refusal.BAD_PROVINCE,
                           f"unknown province '{limits.shown(value)}': give its"
                           f" official code ({', '.join(catalog.provinces())}), its name or its"
                           " slug", province=limits.shown(value))
    return code


def _spec(listing: str | None, config: dict[str, Any] | None = None) -> ListingSpec:
    try:
        return listing_spec(listing, config)
    except KeyError:
        known = ", ".join(sorted(presets())) or "none"
        raise ServiceError(Refusal.UNKNOWN_PRESET, f"unknown listing preset {listing!r}"
                           f" (known: {known})", preset=listing) from None
    except ValueError as exc:
        raise ServiceError(Refusal.UNKNOWN_PRESET, str(exc), preset=listing) from None


async def _find(session: AsyncSession, ref: str | int) -> Source:
    text = str(ref).strip()
    source: Source | None = None
    number = limits.row_id(text)
    if number is not None:
        source = await session.get(Source, number)
    elif (not limits.has_bad_characters(text) and len(text) <= MAX_URL_CHARS
          and is_http_url(text)):
        source = await session.scalar(select(Source).where(Source.url == canonical_url(text)))
    if source is None:  # a number out of range names no source either
        raise ServiceError(Refusal.SOURCE_NOT_FOUND, f"no source '{limits.shown(text, 200)}'"
                           " (give its id or URL)", ref=limits.shown(text))
    return source


def new_source(app: App, url: str, *, province: str | None = None, name: str | None = None,
               listing: str | None = None) -> Source:
    """A checked, unsaved Source row; ServiceError when the URL, province or preset is bad."""
    clean = _clean_url(app, url)
    code = _province_code(province)
    if listing:
        _spec(listing)
    return Source(
        url=clean, kind="listing" if listing else "feed", listing_preset=listing or None,
        # No name: the first read names it after the feed's title (ingest.handler.source_name).
        name=limits.clean_name(name or ""),
        province=code, state="active", next_check_at=app.clock(),
    )


def record_added(session: AsyncSession, actor: str, source: Source) -> None:
    audit.record(session, actor, "source_add", source.url, source_id=source.id,
                 province=source.province, listing=source.listing_preset)


async def add_source(app: App, url: str, *, province: str | None = None,
                     name: str | None = None, listing: str | None = None,
                     actor: str = "cli") -> SourceInfo:
    """Add a feed, or a listing page read with a preset's selectors. It is polled at once;
    what it lists then is its backlog, stored as already seen. A real source ends the demo."""
    source = new_source(app, url, province=province,
                        name=limits.check_text((name or "").strip(), limits.MAX_NAME_CHARS),
                        listing=listing)
    async with app.sessions() as session, session.begin():
        existing = await session.scalar(select(Source.id).where(Source.url == source.url))
        if existing is not None:
            raise ServiceError(Refusal.SOURCE_EXISTS, f"{source.url} is already source {existing}",
                               url=source.url, source_id=existing)
        session.add(source)
        await session.flush()
        record_added(session, actor, source)
        if not demo.is_demo_url(source.url):  # a real source ends the demo
            await demo.remove_demo_sources(session, actor)
        return _info(source)


async def list_sources(app: App) -> list[SourceInfo]:
    """Every source with its state and the number of items it has stored."""
    async with app.sessions() as session:
        counts = dict((await session.execute(
            select(Item.source_id, func.count()).group_by(Item.source_id))).all())
        rows = (await session.scalars(select(Source).order_by(Source.id))).all()
        return [_info(row, int(counts.get(row.id, 0))) for row in rows]


async def remove_source(app: App, ref: str | int, actor: str = "cli") -> SourceInfo:
    """Remove a source and the items only it brought."""
    async with app.sessions() as session, session.begin():
        source = await _find(session, ref)
        info = _info(source)
        await session.execute(delete(Source).where(Source.id == source.id))
        audit.record(session, actor, "source_remove", source.url, source_id=source.id)
    return info


async def pause_source(app: App, ref: str | int, actor: str = "cli") -> SourceInfo:
    async with app.sessions() as session, session.begin():
        source = await _find(session, ref)
        source.state = "paused"
        source.paused_reason = f"paused by {actor}"
        audit.record(session, actor, "source_pause", source.url, source_id=source.id)
        await session.flush()
        return _info(source)


async def resume_source(app: App, ref: str | int, actor: str = "cli") -> SourceInfo:
    """Poll the source again now, with its run of failures forgotten."""
    async with app.sessions() as session, session.begin():
        source = await _find(session, ref)
        source.state = "active"
        source.paused_reason = None
        source.error_count = 0
        source.first_error_at = None
        source.next_check_at = app.clock()
        audit.record(session, actor, "source_resume", source.url, source_id=source.id)
        await session.flush()
        return _info(source)


async def test_source(app: App, url_or_file: str, listing: str | None = None) -> SourceTest:
    """Read a URL or a saved file as a feed (or a listing with `listing`), normalise and classify
    its items, and store nothing."""
    # The reader and its HTTP client load here, not with the module: the bookkeeping commands
    # (`bot.py sources list`, pause, remove ...) start 0.15 s of CPU sooner without them.
    from feeds.fetch import Fetcher
    from feeds.read import parse_body, read_source

    location = (url_or_file or "").strip()
    spec: ListingSpec | None = _spec(listing) if listing else None
    province: str | None = None
    now = app.clock()
    local = app.settings.tz
    path = Path(location)
    moved_to = None
    if not is_http_url(location):
        if not await asyncio.to_thread(path.is_file):
            raise ServiceError(Refusal.BAD_URL, f"neither an http(s) URL nor a readable file:"
                               f" {location!r}", url=location)
        body = (await asyncio.to_thread(path.read_bytes))[: app.settings.http_max_bytes + 1]
        if len(body) > app.settings.http_max_bytes:
            reason = f"{location} is over the {app.settings.http_max_bytes:,}-byte cap"
            raise ServiceError(Refusal.SOURCE_TEST_FAILED, reason, detail=reason)
        try:
            entries = parse_body(body, spec=spec, content_type=None, url="",
                                 fetched_at=now, local=local)
        except FeedError as exc:
            raise ServiceError(Refusal.SOURCE_TEST_FAILED, exc.reason,
                               detail=exc.reason) from None
    else:
        clean = _clean_url(app, location)
        async with app.sessions() as session:
            known = await session.scalar(select(Source).where(Source.url == clean))
        if known is not None:
            province = known.province
            if spec is None and known.kind == "listing":
                spec = _spec(known.listing_preset, known.listing_config)
        async with Fetcher(app.settings) as fetcher:
            read = await read_source(fetcher, location, spec=spec, fetched_at=now, local=local)
        if read.fetch.refused:
            reason = read.error or "refused"
            raise ServiceError(Refusal.SOURCE_REFUSED, reason, url=location, detail=reason)
        if read.error or read.status != "ok":
            reason = read.error or "the source sent nothing"
            raise ServiceError(Refusal.SOURCE_TEST_FAILED, reason, url=location, detail=reason)
        entries, moved_to = read.entries, read.fetch.permanent_url
    classifier = get_classifier()
    items = []
    for entry in entries:
        found = classifier.classify(entry.title, entry.summary, feed_province=province)
        items.append(TestedItem(
            title=entry.title, url=entry.url, summary=entry.summary,
            published_at=entry.published_at, published_local=entry.published_at.astimezone(local),
            dated=entry.dated, provinces=list(found.provinces), topics=list(found.topics),
            evidence=list(found.evidence),
        ))
    return SourceTest(location=location, kind="listing" if spec else "feed", items=items,
                      moved_to=moved_to)
