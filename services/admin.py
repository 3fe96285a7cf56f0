"""Admin actions that are not about one source: statistics, broadcasts, OPML import and export.

Broadcasts go through the outbox like every other message, one row per chat, so the sender paces
them and a crash neither loses nor repeats one.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta

import defusedxml
from defusedxml import ElementTree as SafeET
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, exists, func, select

import catalog
from classify.query import province_code
from model.enums import DeliveryKind, OutboxState
from model.outbox import OutboxPayload
from runtime import App
from services import audit, demo, limits, sources
from services.errors import Refusal, ServiceError
from storage.models import (
    Base,
    Chat,
    Delivery,
    Item,
    Source,
    Subscription,
    SubscriptionProvince,
    User,
)
from storage.sizes import TableSize, table_sizes
from vntext import utf16_len

MAX_OPML_BYTES = 1_000_000
# Feeds one import may add: far more than any real reading list, small enough to check and insert
# in one transaction in a second or two.
MAX_OPML_OUTLINES = 2000
# One message on every channel (Zalo takes 2000 units), so a broadcast is never split.
MAX_BROADCAST_UNITS = 1900


# --- Statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    users_by_role: dict[str, int]
    chats_by_channel: dict[str, int]
    chats_inactive: int
    subscriptions_by_mode: dict[str, int]
    subscriptions_paused: int
    items_total: int
    items_last_day: int
    sources_by_state: dict[str, int]
    sources_failing: int
    deliveries_by_state: dict[str, int]
    failures_last_day: int
    tables: list[TableSize]  # largest first


async def stats(app: App) -> Stats:
    since = app.clock() - timedelta(days=1)
    async with app.sessions() as s:
        async def grouped(column: SQLColumnExpression[str], *where: ColumnElement[bool]
                          ) -> dict[str, int]:
            rows = await s.execute(select(column, func.count()).where(*where).group_by(column))
            return {str(key): int(n) for key, n in rows}

        async def count(model: type[Base], *where: ColumnElement[bool]) -> int:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        return Stats(
            users_by_role=await grouped(User.role),
            chats_by_channel=await grouped(Chat.channel),
            chats_inactive=await count(Chat, Chat.active.is_(False)),
            subscriptions_by_mode=await grouped(Subscription.mode),
            subscriptions_paused=await count(Subscription, Subscription.paused.is_(True)),
            items_total=await count(Item),
            items_last_day=await count(Item, Item.fetched_at >= since),
            sources_by_state=await grouped(Source.state),
            sources_failing=await count(Source, Source.error_count > 0),
            deliveries_by_state=await grouped(Delivery.state),
            failures_last_day=await count(Delivery, Delivery.state == OutboxState.FAILED,
                                          Delivery.created_at >= since),
            tables=await table_sizes(s),
        )


# --- Broadcasts ----------------------------------------------------------------------------


def _audience(province: str | None) -> Select[int]:
    """Active chats; with a province, those following it."""
    query = select(Chat.id).where(Chat.active.is_(True))
    if province:
        query = query.where(exists().where(
            Subscription.chat_id == Chat.id,
            SubscriptionProvince.subscription_id == Subscription.id,
            SubscriptionProvince.province == province))
    return query


def check_broadcast(text: str, province: str | None) -> None:
    if not text.strip():
        raise ServiceError(Refusal.BROADCAST_EMPTY, "a broadcast needs a text")
    if limits.has_bad_characters(text):
        raise ServiceError(Refusal.BAD_CHARACTERS, "control character in a broadcast")
    if utf16_len(text) > MAX_BROADCAST_UNITS:
        raise ServiceError(Refusal.BROADCAST_TOO_LONG,
                           f"broadcast is {utf16_len(text)} UTF-16 units",
                           limit=MAX_BROADCAST_UNITS)
    if province is not None and province not in catalog.provinces():
        raise ServiceError(Refusal.BAD_PROVINCE, f"unknown province {province!r}",
                           province=province)


async def broadcast_audience(app: App, province: str | None = None) -> int:
    """How many chats a broadcast would reach: shown in the preview before it is confirmed."""
    async with app.sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(_audience(province).subquery())) or 0)


async def send_broadcast(app: App, actor: str, html_text: str, province: str | None = None,
                         broadcast_id: str | None = None) -> int:
    """Queue an announcement (Telegram HTML, user text already escaped) for every chat of the
    audience. Queuing the same `broadcast_id` twice adds nothing. Returns how many were queued."""
    check_broadcast(html_text, province)
    broadcast_id = broadcast_id or uuid.uuid4().hex[:12]
    now = app.clock()
    async with app.sessions() as session, session.begin():
        chat_ids = (await session.scalars(_audience(province))).all()
        keys = {f"broadcast:{broadcast_id}:{cid}": cid for cid in chat_ids}
        queued = set((await session.scalars(
            select(Delivery.dedup_key).where(Delivery.dedup_key.like(f"broadcast:{broadcast_id}:%"))
        )).all())
        fresh = [(key, cid) for key, cid in keys.items() if key not in queued]
        session.add_all(Delivery(chat_id=cid, kind=DeliveryKind.BROADCAST, lane=1, dedup_key=key,
                                 payload=OutboxPayload.of_parts([html_text]).to_json(), due_at=now)
                        for key, cid in fresh)
        audit.record(session, actor, "broadcast", province or "all",
                     broadcast_id=broadcast_id, chats=len(fresh), text=html_text[:200])
    return len(fresh)


# --- OPML ----------------------------------------------------------------------------------


async def export_opml(app: App, actor: str) -> bytes:
    """Every source as OPML 2.0. Loa's own attributes: `province` (its home province code) and
    `listing` (the preset of an HTML listing page)."""
    async with app.sessions() as session, session.begin():
        rows = (await session.scalars(select(Source).order_by(Source.id))).all()
        audit.record(session, actor, "export", "opml", sources=len(rows))
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "Loa sources"
    body = ET.SubElement(root, "body")
    for src in rows:
        attrs = {"type": "rss" if src.kind == "feed" else "link", "text": src.name or src.url,
                 "title": src.name or src.url, "xmlUrl": src.url}
        if src.province:
            attrs["province"] = src.province
        if src.listing_preset:
            attrs["listing"] = src.listing_preset
        if src.state != "active":
            attrs["state"] = src.state
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


@dataclass(frozen=True)
class ImportResult:
    added: list[str]
    skipped: list[tuple[str, ServiceError]]  # (url, why): the code for chat, the reason for CLI


def _outlines(data: bytes) -> list[ET.Element]:
    """The outlines that name a feed. Parsed by defusedxml with DTDs forbidden, so a DOCTYPE or
    entity declaration is refused wherever it is and in whatever encoding (UTF-16 included)."""
    if len(data) > MAX_OPML_BYTES:
        raise ServiceError(Refusal.BAD_OPML, f"OPML file is {len(data)} bytes",
                           limit=MAX_OPML_BYTES)
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException:
        raise ServiceError(Refusal.BAD_OPML, "OPML with a DOCTYPE or entities is refused") from None
    except ET.ParseError as exc:
        raise ServiceError(Refusal.BAD_OPML, f"not XML: {exc}") from None
    if root.tag != "opml":
        raise ServiceError(Refusal.BAD_OPML, f"root element is <{root.tag}>, not <opml>")
    outlines = [o for o in root.iter("outline") if o.get("xmlUrl") or o.get("url")]
    if len(outlines) > MAX_OPML_OUTLINES:
        raise ServiceError(Refusal.OPML_TOO_MANY,
                           f"the OPML file lists {len(outlines):,} feeds; one"
                           f" import takes at most {MAX_OPML_OUTLINES:,}",
                           count=len(outlines), limit=MAX_OPML_OUTLINES)
    return outlines


def _candidate(app: App, outline: ET.Element) -> Source:
    url = (outline.get("xmlUrl") or outline.get("url") or "").strip()
    # Categories from other readers are folders unless they name a province.
    province = province_code(outline.get("province") or outline.get("category") or "")
    name = (outline.get("title") or outline.get("text") or "").strip() or None
    return sources.new_source(app, url, province=province, name=name,
                              listing=outline.get("listing") or None)


async def import_opml(app: App, data: bytes, actor: str) -> ImportResult:
    """Add every feed of an OPML document, in one transaction; ones that are already there or
    are refused are reported. The new sources' first polls are spread evenly over one poll
    interval, so an import never makes them all due at once."""
    fresh: dict[str, Source] = {}
    skipped: list[tuple[str, ServiceError]] = []
    for outline in _outlines(data):
        try:
            source = _candidate(app, outline)
        except ServiceError as exc:
            skipped.append(((outline.get("xmlUrl") or outline.get("url") or "").strip(), exc))
            continue
        if source.url in fresh:
            skipped.append((source.url, ServiceError(Refusal.OPML_DUPLICATE,
                                                     "listed twice in the file")))
        else:
            fresh[source.url] = source
    async with app.sessions() as session, session.begin():
        taken = dict((await session.execute(
            select(Source.url, Source.id).where(Source.url.in_(list(fresh))))).all())
        for url, source_id in taken.items():
            skipped.append((url, ServiceError(Refusal.SOURCE_EXISTS,
                                              f"{url} is already source {source_id}",
                                              url=url, source_id=source_id)))
            del fresh[url]
        now, spread = app.clock(), app.settings.poll_interval_seconds
        for n, source in enumerate(fresh.values()):
            source.next_check_at = now + timedelta(seconds=spread * n / len(fresh))
        session.add_all(fresh.values())
        await session.flush()
        for source in fresh.values():
            sources.record_added(session, actor, source)
        audit.record(session, actor, "import", "opml", added=len(fresh), skipped=len(skipped))
        if any(not demo.is_demo_url(url) for url in fresh):  # a real source ends the demo
            await demo.remove_demo_sources(session, actor)
    return ImportResult(list(fresh), skipped)
