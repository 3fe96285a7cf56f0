"""What a claimed outbox row carries: resolve its items set-wise, then render its parts.

Runs when the sender claims a batch of rows:
- an instant row comes with the ids of the new items that matched (delivery.match);
- a digest row carries the items fetched in its window that match the chat's subscriptions on
  that schedule. The window ends at the due time and starts at the chat's previous digest of the
  same mode (so a catch-up digest after downtime has everything since), less LATE_ITEMS, at most
  MAX_CATCHUP back;
- a held digest (delivery.digests.HELD) carries the items matched in its window, [previous held
  digest, due), by the chat's instant subscriptions that it has not been given: the weaker
  matches held back from instant alerts, and anything an instant row could not deliver;
- in both kinds of digest, the items matched only through labels scoring below
  settings.instant_min_score are listed apart, as lower-confidence (`OutboxPayload.low`);
- a report row is an official's report over the period (delivery.report);
- other rows (alerts, broadcasts) come with their parts.
Items the chat already has (`delivered_items`, or held by another row being sent to it) are left
out, so each item reaches a chat once.

The resolved, checked item ids are stored in the row (`OutboxPayload.items`, and `checked`) in the
claiming step; the parts
are rendered from them, which is deterministic, so a row resumed after a crash renders the same
parts and `parts_sent` still points at the right one. Reports, whose chart is costly, store
their rendered parts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.digests import HELD, HELD_OVERLAP, PERIODS
from delivery.match import (
    Candidates,
    Matched,
    Shape,
    Subscriptions,
    live_subscriptions,
    match,
    read_candidates,
    read_subscriptions,
)
from delivery.report import build_report
from model.enums import DeliveryKind, OutboxState, SubscriptionKind, SubscriptionMode
from model.outbox import OutboxPayload, Part
from render.compose import Blocks, render_batch, render_digest
from render.links import page_for, page_line
from render.texts import t
from runtime import App
from storage.dialect import among, in_ranges, in_state, json_text, not_a_copy
from storage.models import (
    DeliveredItem,
    Delivery,
    Item,
    Subscription,
    SubscriptionProvince,
)
from storage.views import ItemView, chunks, load_items

log = logging.getLogger(__name__)

MAX_CATCHUP = {"daily": timedelta(days=7), "weekly": timedelta(days=28), HELD: timedelta(days=7)}
# The furthest back a digest window reaches from its due time (`_window`); delivery.retention
# keeps what such windows still need.
LOOKBACK = max(MAX_CATCHUP.values())
# A held digest with no previous one looks back a day: it was queued less than a day before it
# fell due (delivery.digests.held_dues).
WINDOW = {**PERIODS, HELD: PERIODS["daily"]}
# A poll stamps its items with the time it started reading (ingest.handler) and stores them when
# the read is done, so an item stamped just before a digest's due time can be stored just after
# that digest took its items. Each window therefore reaches this far back before the previous
# digest; what the chat already has is left out, so nothing comes twice.
LATE_ITEMS = timedelta(hours=1)


@dataclass
class Row:
    """A claimed outbox row with what the sender needs of its chat."""

    id: int
    chat_id: int
    chat_key: str
    chat_kind: str
    channel: str
    lang: str
    kind: DeliveryKind
    lane: int
    payload: OutboxPayload
    due_at: datetime
    parts_sent: int
    attempts: int
    parts: list[Part] | None = None  # what to send, once rendered
    changed: bool = False  # the payload gained something to store

    @property
    def resolved(self) -> bool:
        return self.payload.items is not None or self.payload.parts is not None


class Rendered:
    """The messages rendered lately, by everything that decides them, the items' own contents
    included (so an item changed since is rendered again). A digest run claims its rows in
    batches, and the chats that follow the same things fall in every batch: kept across batches,
    each distinct digest is rendered once per run, not once per batch. The sender clears it when
    it falls idle."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._texts: OrderedDict[tuple[Any, ...], list[Part]] = OrderedDict()
        self._blocks: Blocks | None = None
        self._views: dict[int, ItemView] = {}  # what the blocks were rendered from

    def blocks(self, tz: tzinfo, views: dict[int, ItemView]) -> Blocks:
        """The item blocks the messages are made of (by item id), kept alongside them; started
        afresh when an item of `views` changed since, or when they outnumber the messages."""
        seen = self._views
        if (self._blocks is None or self._blocks.tz != tz or len(seen) > self.size
                or any(seen.get(i, view) != view for i, view in views.items())):
            self._blocks, seen = Blocks(tz), {}
            self._views = seen
        seen.update(views)
        return self._blocks

    def get(self, key: tuple[Any, ...]) -> list[Part] | None:
        texts = self._texts.get(key)
        if texts is not None:
            self._texts.move_to_end(key)
        return texts

    def clear(self) -> None:
        self._texts.clear()
        self._blocks, self._views = None, {}

    def __len__(self) -> int:
        return len(self._texts)

    def put(self, key: tuple[Any, ...], texts: list[Part]) -> None:
        self._texts[key] = texts
        if len(self._texts) > self.size:
            self._texts.popitem(last=False)


@dataclass
class _Window:
    """A digest window's candidate items, and what each distinct subscription matches in them."""

    items: Candidates
    shapes: dict[Shape, Matched]
    read_at: datetime


class Matches:
    """The digest matching of a run, kept across its batches as `Rendered` keeps its messages:
    the subscriptions of a schedule's digests due at one time, every chat's, read once instead
    of a batch's chats at a time (3 reads instead of 30 in the match+compose bench), each
    window's candidate items with what each distinct subscription matches in them, worked out
    once instead of once per batch, and the items to render, loaded once instead of once per
    batch (each batch of a run carries mostly the same few hundred). An entry is kept for KEPT
    of the clock at most: a subscription changed, or an item stored or edited, during a run
    counts for the rows claimed a minute later at the latest, as it never counted for the rows
    resolved before it. The sender clears it when it falls idle."""

    KEPT = timedelta(minutes=1)

    def __init__(self) -> None:
        # (schedule, due) → (chat id → the shapes of its subscriptions on it, when read)
        self._subs: dict[tuple[Any, ...], tuple[dict[int, list[Shape]], bool, datetime]] = {}
        self._windows: dict[tuple[Any, ...], _Window] = {}
        self._views: dict[int, ItemView] = {}
        self._times: dict[int, tuple[datetime, datetime | None]] = {}
        self._items_read_at: datetime | None = None

    def clear(self) -> None:
        self._subs.clear()
        self._windows.clear()
        self._views.clear()
        self._times.clear()

    def _items_kept(self, now: datetime) -> None:
        """Start the items' views and times afresh when they were first read over KEPT ago."""
        if self._items_read_at is None or now - self._items_read_at > self.KEPT:
            self._views.clear()
            self._times.clear()
            self._items_read_at = now

    async def items(self, session: AsyncSession, ids: set[int],
                    now: datetime) -> dict[int, ItemView]:
        """The views of the items `ids` that exist, those loaded less than KEPT ago kept."""
        self._items_kept(now)
        views = self._views
        if missing := ids - views.keys():
            views.update(await load_items(session, missing))
        return {i: views[i] for i in ids if i in views}

    async def times(self, session: AsyncSession, ids: set[int],
                    now: datetime) -> dict[int, tuple[datetime, datetime | None]]:
        """(fetched_at, matched_at) of the items `ids` that exist, kept as `items` keeps: only
        once matched, when neither changes again (an item matched after it was read must count
        in a held digest's window at once)."""
        self._items_kept(now)
        found = {i: self._times[i] for i in ids if i in self._times}
        if missing := ids - found.keys():
            read = await _item_times(session, missing)
            found.update(read)
            self._times.update((i, t) for i, t in read.items() if t[1] is not None)
        return found

    async def subscriptions(self, session: AsyncSession, key: tuple[Any, ...], query: Any,
                            now: datetime) -> tuple[dict[int, list[Shape]], bool]:
        """Each chat's shapes among the live subscriptions of `query` (columns sid, chat_id,
        keywords), and whether any has keywords."""
        kept = self._subs.get(key)
        if kept is None or now - kept[2] > self.KEPT:
            live = query.subquery("live")
            subs = await read_subscriptions(
                session, select(live.c.sid, live.c.chat_id.label("tag"), live.c.keywords))
            by_chat: dict[int, list[Shape]] = defaultdict(list)
            for chat_id, shape in subs.tagged:
                by_chat[chat_id].append(shape)
            kept = self._subs[key] = (by_chat, subs.keywords, now)
        return kept[0], kept[1]

    async def window(self, session: AsyncSession, key: tuple[Any, ...], query: Any,
                     min_score: float, words: bool, now: datetime) -> _Window:
        """The candidates of `query` (column iid) and the shapes matched in them so far; with
        `words`, the items' words too."""
        kept = self._windows.get(key)
        if kept is None or now - kept.read_at > self.KEPT or (words and not kept.items.words):
            items = await read_candidates(session, query, min_score, words=words)
            kept = self._windows[key] = _Window(items, {}, now)
        return kept


async def resolve(app: App, session: AsyncSession, rows: list[Row], limits: dict[str, int],
                  matches: Matches | None = None) -> dict[int, ItemView]:
    """The database half of preparing rows (`render` is the other): resolve the rows not
    resolved yet (their payload gains "items", or "parts" for a report, and `changed`), check
    what their chats already have, and load the items to render."""
    todo = [r for r in rows if not r.resolved]
    digests = [r for r in todo if r.kind == DeliveryKind.DIGEST]
    low: dict[int, frozenset[int]] = {}
    matches = matches if matches is not None else Matches()
    items_of = (await _resolve(session, digests, app.settings.instant_min_score, low, matches,
                               app.clock())
                if digests else {})
    for row in rows:
        if row.payload.items is not None and not row.payload.checked:
            items_of[row.id] = row.payload.items
    unchecked = [r for r in rows if r.id in items_of]
    if unchecked:
        await _drop_already_given(session, rows, unchecked, items_of)
        for row in unchecked:
            # Rows with the same items share one tuple (see `_Shared`).
            row.payload.items, row.payload.checked = items_of[row.id], True
            weak = low.get(row.id)
            if weak and (held := tuple(i for i in items_of[row.id] if i in weak)):
                row.payload.low = held
            row.changed = True
    for row in todo:
        if row.kind == DeliveryKind.REPORT:
            parts = await _report_parts(app, session, row, limits[row.channel])
            row.payload.parts = parts
            row.changed = True
    to_render = [r for r in rows if r.parts is None and r.payload.parts is None]
    carried = {id(ids): ids for r in to_render if (ids := r.payload.items)}  # each tuple once
    return await matches.items(session, set().union(*carried.values()), app.clock())


def has_message(row: Row, views: dict[int, ItemView]) -> bool:
    """Whether `render` will give the resolved `row` parts to send (its `views` from `resolve`):
    known before rendering, so that its items can be stored while it renders."""
    if row.parts is not None:
        return bool(row.parts)
    if row.payload.parts is not None:
        return bool(row.payload.parts)
    return any(i in views for i in row.payload.items or ())


# `render` lets the event loop run every so many rows: the database works on the batch's writes
# (delivery.outbox.storing_resolved) and the sends go on while a big batch renders.
RENDER_STEP = 64


async def render(app: App, rows: list[Row], views: dict[int, ItemView],
                 limits: dict[str, int], rendered: Rendered | None = None) -> None:
    """The CPU half of preparing rows: every row gets its parts, from its items (no
    database)."""
    tz = app.settings.tz
    rendered = rendered if rendered is not None else Rendered()
    blocks = rendered.blocks(tz, views)
    # What an item looks like now, in one number: part of the key, so a message rendered in an
    # earlier batch is reused only while its items are unchanged.
    version = {item_id: hash(view) for item_id, view in views.items()}
    # Many rows carry the same items: their ids and versions are worked out once, and the rows
    # that share one tuple (`_Shared`) find them by its id(), without hashing it again.
    known: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
    by_tuple: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
    # The parts of a message, by what decides it, with the items as the id of their entry in
    # `known` (alive till the end): a key of a few small values, hashed once per row, where
    # the full key (hundreds of ids and versions) is hashed once per distinct message.
    parts_of: dict[tuple[Any, ...], list[Part]] = {}
    for n, row in enumerate(rows, 1):
        if n % RENDER_STEP == 0:
            await asyncio.sleep(0)
        if row.parts is not None:
            continue
        if row.payload.parts is not None:
            row.parts = list(row.payload.parts)
            continue
        carried = row.payload.items or ()
        found = by_tuple.get(id(carried))
        if found is None:
            found = known.get(carried)
            if found is None:
                ids = carried if views.keys() >= set(carried) else tuple(
                    i for i in carried if i in views)
                found = known[carried] = (ids, tuple(map(version.__getitem__, ids)))
            by_tuple[id(carried)] = found  # the rows keep `carried` alive till the end
        ids, versions = found
        if not ids:
            row.parts = []
            continue
        limit = limits[row.channel]
        low = row.payload.low or ()
        # An instant message has no header; a digest's is decided by its due time and mode.
        when = None if row.kind == DeliveryKind.INSTANT else (row.due_at, _mode(row))
        local = (id(found), row.kind, row.lang, limit, when, low)
        parts = parts_of.get(local)
        if parts is None:
            parts = parts_of[local] = _parts(app, row, views, ids, versions, frozenset(low),
                                             limit, rendered, blocks)
        # The rows that share a message share its (frozen) parts too.
        row.parts = list(parts)


def _parts(app: App, row: Row, views: dict[int, ItemView], ids: tuple[int, ...],
           versions: tuple[int, ...], weak: frozenset[int], limit: int, rendered: Rendered,
           blocks: Blocks) -> list[Part]:
    """The parts of `row`'s message of items `ids`: rendered, or kept from an earlier batch."""
    tz = app.settings.tz
    header = "" if row.kind == DeliveryKind.INSTANT else _digest_header(row, len(ids), tz)
    # Chats that follow the same things get the same message: render it once.
    key = (row.kind, row.lang, limit, header, ids, versions, weak)
    parts = rendered.get(key)
    if parts is None:
        items = [views[i] for i in ids if i not in weak]
        if row.kind == DeliveryKind.INSTANT:
            texts = render_batch(items, lang=row.lang, tz=tz, limit=limit, blocks=blocks)
        else:
            low = [views[i] for i in ids if i in weak]
            # The page line needs PUBLIC_BASE_URL: without it, no page to work out.
            web = (page_line(app.settings, row.lang, page_for([*items, *low]))
                   if app.settings.public_base_url else None)
            texts = render_digest(items, header=header, lang=row.lang, tz=tz, limit=limit,
                                  blocks=blocks, low=low, postscript=[web] if web else ())
        parts = [Part(text) for text in texts]
        rendered.put(key, parts)
    return parts


def _mode(row: Row) -> str:
    """A digest row's schedule mode; "daily" for a row stored without one."""
    return row.payload.mode or "daily"


def _window(row: Row, previous: datetime | None) -> tuple[datetime, datetime]:
    mode = _mode(row)
    start = previous if previous is not None else row.due_at - WINDOW[mode]
    if mode == HELD:  # see delivery.digests.held_dues
        start -= HELD_OVERLAP
    return max(start - LATE_ITEMS, row.due_at - MAX_CATCHUP[mode]), row.due_at


async def _previous_digests(session: AsyncSession, rows: list[Row]) -> dict[int, datetime]:
    """Each digest row's previous digest (same chat, same mode): where its window starts."""
    found: dict[int, datetime] = {}
    by_mode: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_mode[_mode(row)].append(row)
    for mode, group in by_mode.items():
        chats = [r.chat_id for r in group]
        earlier: dict[int, list[datetime]] = defaultdict(list)
        for part in chunks(chats):
            result = await session.execute(
                select(Delivery.chat_id, Delivery.due_at).where(
                    among(session, Delivery.chat_id, part), Delivery.kind == DeliveryKind.DIGEST,
                    Delivery.dedup_key.startswith(f"digest:{mode}:"),
                    Delivery.due_at >= min(r.due_at for r in group) - MAX_CATCHUP[mode],
                    Delivery.due_at < max(r.due_at for r in group),
                )
            )
            for chat_id, due in result:
                earlier[chat_id].append(due)
        for row in group:
            before = [d for d in earlier[row.chat_id] if d < row.due_at]
            if before:
                found[row.id] = max(before)
    return found


async def _resolve(session: AsyncSession, digests: list[Row], min_score: float,
                   low: dict[int, frozenset[int]], matches: Matches,
                   now: datetime) -> dict[int, tuple[int, ...]]:
    """(row id → item ids) for digest rows, by the matching rule (`delivery.match.match`: the
    chats' subscriptions on the row's schedule over its window's items, kept in `matches`
    across batches); `low` gains, per row, the items matched only weakly (below `min_score`).
    A row is in one group, and comes out once. Chats that follow the same things match the same
    items: their rows share one tuple (see `_Shared`)."""
    pairs: dict[int, frozenset[int]] = {}
    shared = _Shared()
    previous = await _previous_digests(session, digests)
    windows = {row.id: _window(row, previous.get(row.id)) for row in digests}
    # Grouped by window start too: a chat whose last digests were empty (and so deleted) has a
    # longer window, which must not widen its whole schedule's candidate items.
    by_schedule: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in digests:
        p = row.payload
        by_schedule[(p.mode, p.hour, p.weekday or 0, row.due_at, windows[row.id][0])].append(row)
    for (mode, hour, weekday, due, start), group in by_schedule.items():
        if mode == HELD:
            # Matched in [start, due): held_dues puts a match made at a digest's due time in the
            # next one.
            items = select(Item.id.label("iid")).where(
                Item.matched_at >= start, Item.matched_at < due, Item.backlog.is_(False),
                not_a_copy())
            subs = live_subscriptions().where(Subscription.mode == SubscriptionMode.INSTANT)
        else:
            items = select(Item.id.label("iid")).where(
                Item.fetched_at > start, Item.fetched_at <= due, Item.backlog.is_(False),
                not_a_copy())
            subs = live_subscriptions().where(Subscription.mode == mode,
                                              Subscription.hour == hour)
            if mode == SubscriptionMode.WEEKLY:
                subs = subs.where(Subscription.weekday == weekday)
        subs_key = (mode, hour, weekday, due) if mode != HELD else (mode, due)
        window_key = (mode == HELD, start, due)
        by_chat, keywords = await matches.subscriptions(session, subs_key, subs, now)
        cached = await matches.window(session, window_key, items, min_score, keywords, now)
        tagged = [(row.id, shape) for row in group for shape in by_chat.get(row.chat_id, ())]
        for tag, (matched, weak) in match(Subscriptions(tagged), cached.items,
                                          cached.shapes).items():
            pairs[tag] = shared.intern(matched)
            if weak:
                low[tag] = shared.intern(weak)
    if not digests:
        return {}
    # Each digest keeps only the items of its own window.
    times = await matches.times(session, set().union(*pairs.values()), now)
    kept: dict[tuple[frozenset[int], bool, datetime, datetime], tuple[int, ...]] = {}
    windowed: dict[tuple[bool, datetime, datetime], frozenset[int]] = {}
    found: dict[int, tuple[int, ...]] = {}
    for row in digests:
        ids = pairs.get(row.id)
        if not ids:
            found[row.id] = ()
            continue
        held = row.payload.mode == HELD
        start, end = windows[row.id]
        key = (ids, held, start, end)
        in_window = kept.get(key)
        if in_window is None:
            window = windowed.get(key[1:])
            if window is None:  # the items of one window, worked out once for all its rows
                if held:
                    window = frozenset(i for i, (_, at) in times.items()
                                       if at is not None and start <= at < end)
                else:
                    window = frozenset(i for i, (at, _) in times.items() if start < at <= end)
                windowed[key[1:]] = window
            in_window = kept[key] = tuple(sorted(ids & window))
        found[row.id] = in_window
    return found


class _Shared:
    """Equal id sets as one object: chats that follow the same things match the same items, so
    thousands of rows share a few hundred sets (and each distinct one is looked at once)."""

    def __init__(self) -> None:
        self._sets: dict[frozenset[int], frozenset[int]] = {}

    def intern(self, ids: frozenset[int]) -> frozenset[int]:
        return self._sets.setdefault(ids, ids)


async def _item_times(session: AsyncSession,
                      ids: set[int]) -> dict[int, tuple[datetime, datetime | None]]:
    """(fetched_at, matched_at) of each item."""
    found: dict[int, tuple[datetime, datetime | None]] = {}
    for part in chunks(sorted(ids)):
        result = await session.execute(
            select(Item.id, Item.fetched_at, Item.matched_at).where(
                among(session, Item.id, part)))
        found.update({item_id: (fetched, matched) for item_id, fetched, matched in result})
    return found


async def _drop_already_given(session: AsyncSession, rows: list[Row], todo: list[Row],
                              items_of: dict[int, tuple[int, ...]]) -> None:
    """Leave out what each chat already has, or has on its way in another row, and give an item
    wanted by two new rows of one chat to the first (instant before digest, older first)."""
    chats = {r.chat_id for r in todo}
    held: dict[int, set[int]] = {}
    # Digest rows share their tuples (`_Shared`): each distinct one is looked at once.
    lists = [ids for ids in {id(ids): ids for ids in items_of.values()}.values() if ids]
    if lists:
        low, high = min(min(ids) for ids in lists), max(max(ids) for ids in lists)
        for chat_part in chunks(sorted(chats)):
            result = await session.execute(
                select(DeliveredItem.chat_id, DeliveredItem.item_id).where(
                    among(session, DeliveredItem.chat_id, chat_part),
                    DeliveredItem.item_id.between(low, high))
            )
            for chat_id, item_id in result:
                held.setdefault(chat_id, set()).add(item_id)
    # Rows already checked (being sent now, in this batch or another one) hold their items.
    ids_in_batch = {r.id for r in rows}
    for row in rows:
        if row.payload.checked and row.payload.items:
            held.setdefault(row.chat_id, set()).update(row.payload.items)
    d = Delivery.__table__.c  # plain rows: no ORM result processing per row
    parsed: dict[str, tuple[int, ...]] = {}  # payload text → the items it holds, if checked
    for part in chunks(sorted(chats)):
        sending = await session.execute(
            select(d.chat_id, json_text(session, d.payload)).where(
                among(session, d.chat_id, part), in_state(OutboxState.SENDING),
                ~in_ranges(session, d.id, sorted(ids_in_batch)))
        )
        for chat_id, text in sending:
            items = parsed.get(text)
            if items is None:
                payload = OutboxPayload.from_json(json.loads(text) if text else None)
                items = parsed[text] = tuple(payload.items or ()) if payload.checked else ()
            if items:
                held.setdefault(chat_id, set()).update(items)
    # What a row takes matters only to a later row of the same chat: only those rows are put
    # in order (sorting a whole batch by kind and time cost 0.6 s of the match+compose bench).
    repeated = {chat for chat, n in Counter(r.chat_id for r in todo).items() if n > 1}
    alone = [r for r in todo if r.chat_id not in repeated]
    shared = sorted((r for r in todo if r.chat_id in repeated),
                    key=lambda r: (r.kind != DeliveryKind.INSTANT, r.due_at, r.id))
    for row in alone + shared:
        mine = items_of.get(row.id, ())
        already = held.get(row.chat_id)
        if already and not already.isdisjoint(mine):
            mine = tuple(i for i in mine if i not in already)
            items_of[row.id] = mine
        if row.chat_id in repeated:
            held.setdefault(row.chat_id, set()).update(mine)


def _digest_header(row: Row, count: int, tz: tzinfo) -> str:
    return _header(row.lang, _mode(row), row.due_at, count, tz)


@lru_cache(maxsize=1024)
def _header(lang: str, mode: str, due: datetime, count: int, tz: tzinfo) -> str:
    local_due = due.astimezone(tz)
    if mode == SubscriptionMode.WEEKLY:
        start = (due - PERIODS["weekly"]).astimezone(tz)
        return t(lang, "digest_weekly", start=start.strftime("%d/%m"),
                 end=local_due.strftime("%d/%m/%Y"), count=count)
    if mode == HELD:
        return t(lang, "digest_held", date=local_due.strftime("%d/%m/%Y"), count=count)
    return t(lang, "digest_daily", date=local_due.strftime("%d/%m/%Y"), count=count)


async def _report_parts(app: App, session: AsyncSession, row: Row,
                        limit: int) -> list[Part]:
    """An official's scheduled report: counts and items as text, the chart as a photo. None of
    the items in the period: no parts (an empty report is not sent)."""
    p = row.payload
    provinces = sorted(set((await session.scalars(
        select(SubscriptionProvince.province)
        .join(Subscription, Subscription.id == SubscriptionProvince.subscription_id)
        .where(Subscription.chat_id == row.chat_id, Subscription.kind == SubscriptionKind.REPORT,
               Subscription.mode == p.mode, Subscription.hour == p.hour,
               Subscription.paused.is_(False),
               Subscription.weekday == (p.weekday or 0) if p.mode == "weekly" else true())
    )).all()))
    if not provinces:
        return []
    end = row.due_at
    report = await build_report(app, provinces, end - PERIODS[_mode(row)], end, row.lang,
                                limit=limit)
    if not report.total:
        return []
    parts = [Part(report.parts[0])]
    if report.png:
        parts.append(Part(report.caption, photo=report.png))
    return parts + [Part(part) for part in report.parts[1:]]

