"""Which subscriptions want which items: one rule, applied in Python to what SQL reads.

A subscription matches an item when every non-empty part matches: ANY of its topics, ANY of its
provinces, ALL of its keywords (whole words of the item's folded `search_text`). Paused
subscriptions, mode "off", inactive chats, backlog items and duplicates never match.

`match` is the rule, over `Subscriptions` (read by `read_subscriptions`: each one's tag, its
provinces, topics and keywords) and `Candidates` (read by `read_candidates`: the candidate items,
each label's items, their words). `on_new_items` (at ingestion) queues one instant outbox row per
chat that has an instant subscription matching any of the new items, with those item ids;
`delivery.contents` (when the sender claims a batch of digest rows) matches the batch's
subscriptions with the window's items. Both are thousands of subscriptions over at most a few
thousand items, and chats that follow the same things (the same provinces, topics and keywords)
are matched once: as set operations on each label's items, no loop over items.
(tests/test_delivery_match.py checks `match` against the rule written pair by pair.)

What a chat has been given is recorded per (chat, item) in `delivered_items` once sent; resolving
leaves out what a chat already has, so each item reaches a chat at most once, even when several
of its subscriptions match it.

Every pair also says whether it is *strong*: the labels that decided it (the item's province
and topic that met the subscription's) all score at least `min_score`. Instant alerts carry only
strong pairs (settings.instant_min_score); a weaker match is held for the chat's next digest,
where it is marked as lower-confidence: a daily digest of the chat's instant subscriptions'
held items ("held" rows, due at the chat's digest hour), or the chat's own daily or weekly
digest, whichever is sent first.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.digests import held_dues, held_row
from delivery.pacing import INTERACTIVE
from model.enums import DeliveryKind, SubscriptionKind, SubscriptionMode
from model.outbox import OutboxPayload
from runtime import App
from storage.dialect import among, insert_rows, lock_for_write, text_list
from storage.leases import claim_unmatched
from storage.models import (
    Chat,
    Item,
    ItemProvince,
    ItemTopic,
    Subscription,
    SubscriptionProvince,
    SubscriptionTopic,
)
from storage.views import chunks
from vntext import fold_tokens

log = logging.getLogger(__name__)

MATCH_BATCH = 1000  # items per start-up catch-up transaction


def live_subscriptions() -> Select[int, int, str]:
    """Subscriptions that may receive news now: not paused, not off, chat active."""
    return (
        select(Subscription.id.label("sid"), Subscription.chat_id.label("chat_id"),
               Subscription.keywords.label("keywords"))
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Subscription.paused.is_(False), Subscription.kind == SubscriptionKind.NEWS,
               Chat.active.is_(True))
    )


def deliverable(item_ids: list[int]) -> Select[Any]:
    """The given items that may be pushed: no backlog, no duplicates."""
    return select(Item.id.label("iid")).where(
        Item.id.in_(item_ids), Item.backlog.is_(False), Item.duplicate_of.is_(None)
    )


# What a subscription follows: (provinces, topics, keywords), the labels sorted; a part it does
# not have is empty.
Shape = tuple[tuple[str, ...], tuple[str, ...], str]
# What some subscriptions match: (the items, those of them matched strongly).
Matched = tuple[frozenset[int], frozenset[int]]
_NOTHING: Matched = (frozenset(), frozenset())


@dataclass
class Subscriptions:
    """Subscriptions to match, each as (tag, shape): the tag says whom the match is for (a
    chat, a digest row)."""

    tagged: list[tuple[int, Shape]] = field(default_factory=list)

    @property
    def keywords(self) -> bool:
        return any(shape[2] for _, shape in self.tagged)


async def read_subscriptions(session: AsyncSession, subs: Select[Any]) -> Subscriptions:
    """The subscriptions of `subs` (columns sid, tag, keywords) with their provinces and
    topics, in one query."""
    q = subs.subquery("subs")
    sp, st = SubscriptionProvince.__table__.c, SubscriptionTopic.__table__.c
    provinces = (select(text_list(session, sp.province)).where(sp.subscription_id == q.c.sid)
                 .scalar_subquery())
    topics = (select(text_list(session, st.topic)).where(st.subscription_id == q.c.sid)
              .scalar_subquery())
    found = Subscriptions()
    shapes: dict[Shape, Shape] = {}  # equal shapes as one object
    for tag, keywords, p, t in await session.execute(
            select(q.c.tag, q.c.keywords, provinces, topics)):
        shape: Shape = (_labels(p), _labels(t), keywords)
        found.tagged.append((tag, shapes.setdefault(shape, shape)))
    return found


@lru_cache(maxsize=4096)
def _labels(listed: str | None) -> tuple[str, ...]:
    return tuple(sorted(set(listed.split(",")))) if listed else ()


class Candidates:
    """The items a match may give, with each label's items: what a subscription with that one
    label (province or topic) and no other part matches, and those it labels strongly."""

    def __init__(self, everything: frozenset[int], by_province: dict[str, Matched],
                 by_topic: dict[str, Matched], words: dict[int, frozenset[str]]) -> None:
        self.everything = everything
        self.by_province = by_province
        self.by_topic = by_topic
        self.words = words  # each item's folded words; only read when keywords are matched
        self._phrases: dict[str, frozenset[int]] = {}

    def with_phrase(self, phrase: str) -> frozenset[int]:
        """The items that hold every word of `phrase` (none for a phrase without words)."""
        found = self._phrases.get(phrase)
        if found is None:
            needed = frozenset(fold_tokens(phrase))
            found = self._phrases[phrase] = frozenset(
                item_id for item_id, words in self.words.items()
                if needed and needed <= words)
        return found


async def read_candidates(session: AsyncSession, items: Select[Any], min_score: float, *,
                          words: bool) -> Candidates:
    """The items of `items` (column iid) with their labels, and their words when `words`. A
    label is strong when it scores at least `min_score`."""
    ip, it = ItemProvince.__table__.c, ItemTopic.__table__.c
    ids = frozenset(await session.scalars(items))
    ordered = sorted(ids)

    async def per_label(item_col: Any, label_col: Any, score_col: Any) -> dict[str, Matched]:
        labelled: dict[str, set[int]] = defaultdict(set)
        strong: dict[str, set[int]] = defaultdict(set)
        for part in chunks(ordered):
            for item_id, label, score in await session.execute(
                    select(item_col, label_col, score_col).where(
                        among(session, item_col, part))):
                labelled[label].add(item_id)
                if score >= min_score:
                    strong[label].add(item_id)
        return {label: (frozenset(got), frozenset(strong.get(label, ())))
                for label, got in labelled.items()}

    texts: dict[int, frozenset[str]] = {}
    if words:
        for part in chunks(ordered):
            for item_id, search_text in await session.execute(
                    select(Item.id, Item.search_text).where(among(session, Item.id, part))):
                texts[item_id] = _words(search_text)
    return Candidates(ids, await per_label(ip.item_id, ip.province, ip.score),
                      await per_label(it.item_id, it.topic, it.score), texts)


@lru_cache(maxsize=20_000)
def _words(search_text: str) -> frozenset[str]:
    # The same items come back in every batch of a digest run: tokenise each text once.
    return frozenset(fold_tokens(search_text))


def match(subs: Subscriptions, items: Candidates,
          known: dict[Shape, Matched] | None = None) -> dict[int, Matched]:
    """tag → (item ids, the weak ones among them): the matching rule. A subscription matches an
    item when ANY of its provinces and ANY of its topics are among the item's labels (a part it
    does not have is no condition) and the item holds every word of its keywords; the pair is
    strong when the labels that decided it are all strong (`read_candidates`; a match without
    labels is strong); an item matched strongly through any subscription or label is strong,
    and weak otherwise. Tags without a match are left out; tags with the same subscriptions
    share the same sets. `known`: what each shape matches in `items`, worked out by earlier
    calls over the same items (a digest run's batches: delivery.contents.Matches); it gains
    the new ones."""

    def any_of(labels: tuple[str, ...], by_label: dict[str, Matched]) -> Matched:
        """Items with any of `labels`; strong if strong through any of them."""
        if len(labels) == 1:
            return by_label.get(labels[0], _NOTHING)
        got = [by_label.get(label, _NOTHING) for label in labels]
        return (frozenset().union(*(ids for ids, _ in got)),
                frozenset().union(*(strong for _, strong in got)))

    def one(shape: Shape) -> Matched:
        provinces, topics, keywords = shape
        if provinces and topics:
            # A pair (province, topic) decides: strong when both labels are. The best pair of
            # an item is its best province with its best topic.
            (in_p, strong_p) = any_of(provinces, items.by_province)
            (in_t, strong_t) = any_of(topics, items.by_topic)
            got = (in_p & in_t, strong_p & strong_t)
        elif provinces:
            got = any_of(provinces, items.by_province)
        elif topics:
            got = any_of(topics, items.by_topic)
        else:
            got = (items.everything, items.everything)
        if keywords:
            wanted = items.with_phrase(keywords)
            got = (got[0] & wanted, got[1] & wanted)
        return got

    known = {} if known is None else known
    per_tag: dict[int, list[Matched]] = defaultdict(list)
    for tag, shape in subs.tagged:
        matched = known.get(shape)
        if matched is None:
            matched = known[shape] = one(shape)
        if matched[0]:
            per_tag[tag].append(matched)
    # A tag's items, from each of its subscriptions; the weak ones are those no subscription
    # matched strongly.
    merged: dict[Hashable, Matched] = {}
    found: dict[int, Matched] = {}
    for tag, all_matched in per_tag.items():
        ident = tuple(id(m) for m in all_matched)
        got = merged.get(ident)
        if got is None:
            if len(all_matched) == 1:
                ids, strong = all_matched[0]
            else:
                ids = frozenset().union(*(m[0] for m in all_matched))
                strong = frozenset().union(*(m[1] for m in all_matched))
            got = merged[ident] = (ids, ids - strong)
        found[tag] = got
    return found


async def on_new_items(app: App, item_ids: list[int]) -> None:
    """Called by the ingest handler after it stores and labels new, deliverable items: one instant
    outbox row for each chat that an instant subscription of it matches strongly, carrying
    those items, and a held-digest row for each chat with weaker matches. Digests pick the
    items up at their hour (delivery.digests)."""
    if not item_ids:
        return
    now = app.clock()
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        # Claimed first: another instance's catch-up matching the same items queues nothing.
        ids = await claim_unmatched(session, sorted(set(item_ids)), now)
        if not ids:
            return
        queued, held = await queue_instant(session, ids, now, app.settings.instant_min_score,
                                           app.settings.tz)
    log.info("%d new items: instant messages queued for %d chats, weaker matches held for %d",
             len(ids), queued, held)


async def match_unmatched(app: App) -> int:
    """At start-up: match the deliverable items that were stored but never matched, because
    the process stopped in between. Returns how many there were. Several instances may run it
    at once: each item is matched by one of them (`on_new_items` claims it)."""
    async with app.sessions() as session:
        ids = list(await session.scalars(
            select(Item.id).where(Item.matched_at.is_(None), Item.backlog.is_(False),
                                  Item.duplicate_of.is_(None))))
    for batch in range(0, len(ids), MATCH_BATCH):
        await on_new_items(app, ids[batch:batch + MATCH_BATCH])
    return len(ids)


async def queue_instant(session: AsyncSession, item_ids: list[int], now: datetime,
                        min_score: float, tz: tzinfo) -> tuple[int, int]:
    """Queue the rows for these new items; returns (instant rows, held-digest rows) queued.
    An instant row carries the chat's strongly matched items; a chat with weaker matches gets
    its next held digest queued (one per chat and day, so queuing it again is a no-op: the
    digest finds the items itself when it is sent, see delivery.contents). What a chat already
    has is taken out when a row is claimed."""
    live = live_subscriptions().where(Subscription.mode == SubscriptionMode.INSTANT).subquery()
    subs = await read_subscriptions(
        session, select(live.c.sid, live.c.chat_id.label("tag"), live.c.keywords))
    items = await read_candidates(session, deliverable(item_ids), min_score,
                                  words=subs.keywords)
    found = match(subs, items)
    # The same items give the same keys, so queuing them again (a retried transaction) is a
    # no-op; items are matched once (storage.leases.claim_unmatched), so keys never collide.
    batch = hashlib.sha1(",".join(map(str, item_ids)).encode()).hexdigest()[:16]
    # Chats that follow the same things share their sets, and so their payload.
    payloads: dict[frozenset[int], dict[str, Any]] = {}
    rows = []
    for chat_id, (ids, weak) in sorted(found.items()):
        strong = ids - weak if weak else ids
        if not strong:
            continue
        payload = payloads.get(strong)
        if payload is None:
            payload = payloads[strong] = OutboxPayload(items=tuple(sorted(strong))).to_json()
        rows.append({"chat_id": chat_id, "kind": DeliveryKind.INSTANT, "lane": INTERACTIVE,
                     "dedup_key": f"instant:{chat_id}:{batch}", "payload": payload,
                     "due_at": now})
    instant = await insert_rows(session, rows, now)
    weak_chats = sorted(chat_id for chat_id, (_, weak) in found.items() if weak)
    held = []
    for part in chunks(weak_chats):
        for chat_id, hour in await session.execute(
                select(Chat.id, Chat.default_hour).where(among(session, Chat.id, part))):
            held += [held_row(chat_id, hour, due, tz) for due in held_dues(hour, now, tz)]
    return instant, await insert_rows(session, held, now)
