"""What a claimed outbox row carries: resolve its items set-wise, then render its parts.

Runs when the sender claims a batch of rows, for the rows not yet rendered:
- an instant row holds the new item ids of one ingestion; it carries those that match one of the
  chat's instant subscriptions;
- a digest row carries the items fetched in its window that match the chat's subscriptions on
  that schedule. The window ends at the due time and starts at the chat's previous digest of the
  same mode (so a catch-up digest after downtime has everything since), at most MAX_CATCHUP back;
- a report row is an official's report over the period (delivery.report).
Items the chat already has (`delivered_items`, or held by another row being sent to it) are left
out, so each item reaches a chat once. The result is written into the row's payload (item ids
and rendered parts) in the claiming transaction: a resumed row sends exactly the parts it was
going to send, whatever changed meanwhile.
"""

from __future__ import annotations

import base64
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.compose import render_batch, render_digest, text
from delivery.digests import PERIODS
from delivery.match import deliverable, keyword_keys, live_subscriptions, matching_pairs
from delivery.report import build_report
from delivery.views import chunks, load_items
from runtime import App
from storage.models import DeliveredItem, Delivery, Item, Subscription, SubscriptionProvince

log = logging.getLogger(__name__)

MAX_CATCHUP = {"daily": timedelta(days=7), "weekly": timedelta(days=28)}


@dataclass
class Row:
    """A claimed outbox row with what the sender needs of its chat."""

    id: int
    chat_id: int
    chat_key: str
    chat_kind: str
    channel: str
    lang: str
    kind: str
    lane: int
    payload: dict[str, Any]
    due_at: datetime
    parts_sent: int
    attempts: int
    rendered: bool = field(init=False)

    def __post_init__(self) -> None:
        self.rendered = "parts" in self.payload


async def prepare(app: App, session: AsyncSession, rows: list[Row], limits: dict[str, int]) -> None:
    """Resolve and render every row of `rows` that has no parts yet, in place (payload gains
    "items" and "parts"; an empty one gains "parts": []). `limits`: max text units by channel."""
    todo = [r for r in rows if not r.rendered]
    if not todo:
        return
    items_of: dict[int, list[int]] = {}
    instant = [r for r in todo if r.kind == "instant"]
    digests = [r for r in todo if r.kind == "digest"]
    reports = [r for r in todo if r.kind == "report"]
    if instant or digests:
        items_of = await _resolve(session, instant, digests)
        await _drop_already_given(session, rows, todo, items_of)
    views = await load_items(session, {i for ids in items_of.values() for i in ids})
    tz = app.settings.tz
    for row in instant + digests:
        ids = [i for i in items_of.get(row.id, []) if i in views]
        items = [views[i] for i in ids]
        limit = limits[row.channel]
        if not items:
            parts: list[str] = []
        elif row.kind == "instant":
            parts = render_batch(items, lang=row.lang, tz=tz, limit=limit)
        else:
            parts = render_digest(items, header=_digest_header(row, len(items), tz),
                                  lang=row.lang, tz=tz, limit=limit)
        row.payload = {**row.payload, "items": ids, "parts": [{"text": p} for p in parts]}
    for row in reports:
        row.payload = {**row.payload, "items": [],
                       "parts": await _report_parts(app, session, row, limits[row.channel])}
    for row in todo:
        row.rendered = True


def _window(row: Row, previous: datetime | None) -> tuple[datetime, datetime]:
    mode = row.payload.get("mode", "daily")
    start = previous if previous is not None else row.due_at - PERIODS[mode]
    return max(start, row.due_at - MAX_CATCHUP[mode]), row.due_at


async def _previous_digests(session: AsyncSession, rows: list[Row]) -> dict[int, datetime]:
    """Each digest row's previous digest (same chat, same mode): where its window starts."""
    found: dict[int, datetime] = {}
    by_mode: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_mode[row.payload.get("mode", "daily")].append(row)
    for mode, group in by_mode.items():
        chats = [r.chat_id for r in group]
        earlier: dict[int, list[datetime]] = defaultdict(list)
        for part in chunks(chats):
            result = await session.execute(
                select(Delivery.chat_id, Delivery.due_at).where(
                    Delivery.chat_id.in_(part), Delivery.kind == "digest",
                    Delivery.dedup_key.startswith(f"digest:{mode}:"),
                    Delivery.due_at >= min(r.due_at for r in group) - MAX_CATCHUP[mode],
                )
            )
            for chat_id, due in result:
                earlier[chat_id].append(due)
        for row in group:
            before = [d for d in earlier[row.chat_id] if d < row.due_at]
            if before:
                found[row.id] = max(before)
    return found


async def _resolve(session: AsyncSession, instant: list[Row], digests: list[Row]) -> dict[int, list[int]]:
    """(row id → item ids) for instant and digest rows, with the matching query."""
    pairs: dict[int, set[int]] = defaultdict(set)
    by_items: dict[tuple[int, ...], list[Row]] = defaultdict(list)
    for row in instant:
        by_items[tuple(row.payload.get("items", ()))].append(row)
    for ids, group in by_items.items():
        items = deliverable(list(ids))
        subs = live_subscriptions().where(Subscription.mode == "instant")
        await _pairs_into(session, pairs, group, subs, items)

    previous = await _previous_digests(session, digests)
    windows = {row.id: _window(row, previous.get(row.id)) for row in digests}
    by_schedule: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in digests:
        p = row.payload
        by_schedule[(p["mode"], p["hour"], p.get("weekday", 0), row.due_at)].append(row)
    for (mode, hour, weekday, due), group in by_schedule.items():
        start = min(windows[r.id][0] for r in group)
        items = select(Item.id.label("iid")).where(
            Item.fetched_at > start, Item.fetched_at <= due, Item.backlog.is_(False),
            Item.duplicate_of.is_(None),
        )
        subs = live_subscriptions().where(Subscription.mode == mode, Subscription.hour == hour)
        if mode == "weekly":
            subs = subs.where(Subscription.weekday == weekday)
        await _pairs_into(session, pairs, group, subs, items)
    if digests:
        # Each digest keeps only the items of its own window.
        fetched = await _fetched_at(session, {i for r in digests for i in pairs.get(r.id, ())})
        for row in digests:
            start, end = windows[row.id]
            pairs[row.id] = {i for i in pairs.get(row.id, ()) if start < fetched[i] <= end}
    return {row_id: sorted(ids) for row_id, ids in pairs.items()}


async def _pairs_into(session: AsyncSession, pairs: dict[int, set[int]], group: list[Row],
                      subs_query: Any, items_query: Any) -> None:
    """Run the matching query for the rows of `group` (tagged by row id) and collect pairs."""
    for part in chunks([r.id for r in group], 1000):
        row_of_chat = select(Delivery.id.label("tag"), Delivery.chat_id).where(
            Delivery.id.in_(part)).subquery("rows")
        live = subs_query.subquery("live")
        subs = (
            select(live.c.sid, row_of_chat.c.tag, live.c.keywords)
            .join(row_of_chat, row_of_chat.c.chat_id == live.c.chat_id)
            .cte("cand_subs")
        )
        items = items_query.cte("cand_items")
        keys = await keyword_keys(session, select(items.c.iid).subquery(),
                                  select(subs.c.keywords).subquery())
        query = matching_pairs(subs, items, keys).subquery("pairs")
        result = await session.execute(select(query.c.tag, query.c.item_id).distinct())
        for tag, item_id in result:
            pairs[tag].add(item_id)


async def _fetched_at(session: AsyncSession, ids: set[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for part in chunks(sorted(ids)):
        result = await session.execute(select(Item.id, Item.fetched_at).where(Item.id.in_(part)))
        found.update(dict(result.tuples().all()))
    return found


async def _drop_already_given(session: AsyncSession, rows: list[Row], todo: list[Row],
                              items_of: dict[int, list[int]]) -> None:
    """Leave out what each chat already has, or has on its way in another row, and give an item
    wanted by two new rows of one chat to the first (instant before digest, older first)."""
    chats = {r.chat_id for r in todo}
    held: dict[int, set[int]] = defaultdict(set)
    candidates = sorted({i for ids in items_of.values() for i in ids})
    for chat_part in chunks(sorted(chats), 1000):
        for item_part in chunks(candidates, 4000):
            result = await session.execute(
                select(DeliveredItem.chat_id, DeliveredItem.item_id).where(
                    DeliveredItem.chat_id.in_(chat_part), DeliveredItem.item_id.in_(item_part))
            )
            for chat_id, item_id in result:
                held[chat_id].add(item_id)
    # Rows already rendered (being sent now, in this batch or another one) hold their items.
    ids_in_batch = {r.id for r in rows}
    for row in rows:
        if row.rendered:
            held[row.chat_id].update(row.payload.get("items", ()))
    for part in chunks(sorted(chats), 1000):
        result = await session.execute(
            select(Delivery.chat_id, Delivery.payload).where(
                Delivery.chat_id.in_(part), Delivery.state == "sending",
                Delivery.id.not_in(ids_in_batch),
            )
        )
        for chat_id, payload in result:
            if payload and "parts" in payload:
                held[chat_id].update(payload.get("items", ()))
    for row in sorted(todo, key=lambda r: (r.kind != "instant", r.due_at, r.id)):
        mine = [i for i in items_of.get(row.id, []) if i not in held[row.chat_id]]
        items_of[row.id] = mine
        held[row.chat_id].update(mine)


def _digest_header(row: Row, count: int, tz) -> str:  # type: ignore[no-untyped-def]
    local_due = row.due_at.astimezone(tz)
    if row.payload.get("mode") == "weekly":
        start = (row.due_at - PERIODS["weekly"]).astimezone(tz)
        return text(row.lang, "digest_weekly", start=start.strftime("%d/%m"),
                    end=local_due.strftime("%d/%m/%Y"), count=count)
    return text(row.lang, "digest_daily", date=local_due.strftime("%d/%m/%Y"), count=count)


async def _report_parts(app: App, session: AsyncSession, row: Row, limit: int) -> list[dict[str, Any]]:
    """An official's scheduled report: counts and items as text, the chart as a photo. None of
    the items in the period: no parts (an empty report is not sent)."""
    p = row.payload
    provinces = sorted(set((await session.scalars(
        select(SubscriptionProvince.province)
        .join(Subscription, Subscription.id == SubscriptionProvince.subscription_id)
        .where(Subscription.chat_id == row.chat_id, Subscription.kind == "report",
               Subscription.mode == p["mode"], Subscription.hour == p["hour"],
               Subscription.paused.is_(False),
               Subscription.weekday == p.get("weekday", 0) if p["mode"] == "weekly" else true())
    )).all()))
    if not provinces:
        return []
    end = row.due_at
    report = await build_report(app, provinces, end - PERIODS[p["mode"]], end, row.lang,
                                limit=limit)
    if not report.total:
        return []
    parts: list[dict[str, Any]] = [{"text": report.parts[0]}]
    if report.png:
        parts.append({"photo": base64.b64encode(report.png).decode(), "caption": report.caption})
    parts += [{"text": t} for t in report.parts[1:]]
    return parts

