"""Which subscriptions want which items: decided set-wise in SQL.

A subscription matches an item when every non-empty part matches: ANY of its topics, ANY of its
provinces, ALL of its keywords (whole words of the item's folded `search_text`). Paused
subscriptions, mode "off", inactive chats, backlog items and duplicates never match.

`matching_pairs` is the matching query: `on_new_items` (at ingestion) queues one instant outbox
row per chat that has an instant subscription matching any of the new items, with those item
ids: one row per chat, not per pair (the ids are aggregated in SQL). `delivery.contents` (when
the sender claims a batch of digest rows) applies the same rule in Python to the batch's
subscriptions and the window's items, which SQL reads for it: thousands of chats over the same
items, matched once per distinct subscription (tests/test_delivery_match.py checks that both
give the same pairs).

What a chat has been given is recorded per (chat, item) in `delivered_items` once sent; resolving
leaves out what a chat already has, so each item reaches a chat at most once, even when several
of its subscriptions match it.

Every pair also says whether it is *strong*: the labels that decided it (the item's province
and topic that met the subscription's) all score at least `min_score`. Instant alerts carry only
strong pairs (settings.instant_min_score); a weaker match is held for the chat's next digest,
where it is marked as lower-confidence: a daily digest of the chat's instant subscriptions'
held items ("held" rows, due at the chat's digest hour), or the chat's own daily or weekly
digest, whichever is sent first.

The query is driven by the labels: the candidate items' provinces and topics (a few thousand rows)
are joined to the subscriptions' ones, per shape of subscription (provinces and topics, provinces
only, topics only, neither), so there is no OR over correlated subqueries and no scan of all
subscriptions × items. Keywords are few distinct phrases: each phrase is tested once per item in
Python with the same folding as search (`vntext.fold_tokens`), and SQL gets the
"phrase#item_id" keys that hold.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CTE,
    CompoundSelect,
    Float,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.digests import held_dues, held_row
from delivery.pacing import INTERACTIVE
from model.enums import DeliveryKind, SubscriptionKind, SubscriptionMode
from runtime import App
from storage.dialect import (
    dialect,
    id_list,
    in_strings,
    insert_pending,
    insert_rows,
    json_object_text,
    lock_for_write,
)
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


def matching_pairs(session: AsyncSession, subs: CTE, items: CTE, keyword_keys: Iterable[str],
                   min_score: float) -> CompoundSelect[Any]:
    """(tag, item_id, strong) for every subscription in `subs` (columns sid, tag, keywords) and
    item in `items` (column iid) that match; `strong` is 1 when the labels that decided the
    match all score at least `min_score` (a keyword-only match is strong: no label decided it),
    else 0. A pair can come out more than once (several subscriptions or topics); callers
    group by it (see `by_tag`).

    Both sides' labels are materialised first (the subscriptions' of `subs`, the items' of
    `items`), so every join is between two small sets and no engine is tempted to walk an
    index over all subscriptions of a province."""
    st, sp = SubscriptionTopic.__table__, SubscriptionProvince.__table__
    ip, it = ItemProvince.__table__, ItemTopic.__table__

    def materialized(query: Select[Any], name: str) -> CTE:
        return query.cte(name).prefix_with("MATERIALIZED")

    cand_ip = materialized(
        select(ip.c.item_id, ip.c.province, ip.c.score)
        .where(ip.c.item_id.in_(select(items.c.iid))), "cand_item_provinces")
    cand_it = materialized(
        select(it.c.item_id, it.c.topic, it.c.score)
        .where(it.c.item_id.in_(select(items.c.iid))), "cand_item_topics")
    cand_sp = materialized(
        select(subs.c.sid, subs.c.tag, subs.c.keywords, sp.c.province)
        .join(sp, sp.c.subscription_id == subs.c.sid), "cand_sub_provinces")
    cand_st = materialized(
        select(subs.c.sid, st.c.topic).join(st, st.c.subscription_id == subs.c.sid),
        "cand_sub_topics")
    no_topics = ~exists().where(cand_st.c.sid == subs.c.sid)
    no_provinces = ~exists().where(cand_sp.c.sid == subs.c.sid)

    # One parameter for all the keys (thousands: phrases × items), shared by the four branches;
    # one threshold, likewise.
    keys = sorted(keyword_keys)
    engine = dialect(session)
    threshold = bindparam("min_score", min_score, type_=Float())

    def strong(*scores: Any) -> Any:
        return case((and_(*(score >= threshold for score in scores)), 1), else_=0)

    def keep(query: Select[Any], keywords: Any, item_col: Any) -> Select[Any]:
        plain = keywords == ""
        if not keys:
            return query.where(plain)
        key = keywords + literal("#") + cast(item_col, String)
        return query.where(or_(plain, in_strings(engine, key, keys, "keyword_keys")))

    provinces_only = keep(
        select(cand_sp.c.tag, cand_ip.c.item_id, strong(cand_ip.c.score).label("strong"))
        .join(cand_ip, cand_ip.c.province == cand_sp.c.province)
        .where(~exists().where(cand_st.c.sid == cand_sp.c.sid)),
        cand_sp.c.keywords, cand_ip.c.item_id,
    )
    provinces_and_topics = keep(
        select(cand_sp.c.tag, cand_ip.c.item_id, strong(cand_ip.c.score, cand_it.c.score))
        .join(cand_ip, cand_ip.c.province == cand_sp.c.province)
        .join(cand_st, cand_st.c.sid == cand_sp.c.sid)
        .join(cand_it, (cand_it.c.item_id == cand_ip.c.item_id)
              & (cand_it.c.topic == cand_st.c.topic)),
        cand_sp.c.keywords, cand_ip.c.item_id,
    )
    topics_only = keep(
        select(subs.c.tag, cand_it.c.item_id, strong(cand_it.c.score))
        .join(cand_st, cand_st.c.sid == subs.c.sid)
        .join(cand_it, cand_it.c.topic == cand_st.c.topic)
        .where(no_provinces),
        subs.c.keywords, cand_it.c.item_id,
    )
    everything = keep(
        select(subs.c.tag, items.c.iid, literal(1))
        .join(items, true())  # a deliberate cross join: these subscriptions take every item
        .where(no_topics, no_provinces),
        subs.c.keywords, items.c.iid,
    )
    return union_all(provinces_only, provinces_and_topics, topics_only, everything)


def by_tag(session: AsyncSession, pairs: Any) -> Select[Any]:
    """Per tag of `matching_pairs`: (tag, ids, strong, weak): every item id, the ids matched
    strongly, the ids matched only weakly, each as an id list (NULL when there are none). An
    item matched strongly by any subscription or label counts as strong."""
    best = (select(pairs.c.tag, pairs.c.item_id, func.max(pairs.c.strong).label("strong"))
            .group_by(pairs.c.tag, pairs.c.item_id).subquery("best"))
    # CASE gives NULL otherwise, which the id list leaves out.
    strong = case((best.c.strong == 1, best.c.item_id))
    weak = case((best.c.strong == 0, best.c.item_id))
    return (select(best.c.tag, id_list(session, best.c.item_id).label("ids"),
                   id_list(session, strong).label("strong"), id_list(session, weak).label("weak"))
            .group_by(best.c.tag))


async def keyword_keys(session: AsyncSession, items: Subquery, subs: Subquery) -> set[str]:
    """"phrase#item_id" for every keyword phrase of `subs` (column keywords) whose words all
    occur in the item's folded text."""
    phrases = (
        await session.scalars(
            select(subs.c.keywords).where(subs.c.keywords != "").distinct()
        )
    ).all()
    if not phrases:
        return set()
    wanted = {phrase: frozenset(words) for phrase in phrases if (words := fold_tokens(phrase))}
    if not wanted:
        return set()
    asked = frozenset().union(*wanted.values())
    texts = await session.execute(
        select(Item.id, Item.search_text).where(Item.id.in_(select(items.c.iid)))
    )
    # Only the phrases' words are indexed: a few, not every word of every item.
    items_with: dict[str, set[int]] = defaultdict(set)
    for item_id, search_text in texts:
        for word in asked & _words(search_text):
            items_with[word].add(item_id)
    keys: set[str] = set()
    for phrase, needed in wanted.items():
        found = set.intersection(*(items_with.get(w, set()) for w in needed))
        keys.update(f"{phrase}#{item_id}" for item_id in found)
    return keys


@lru_cache(maxsize=20_000)
def _words(search_text: str) -> frozenset[str]:
    # The same items come back in every batch of a digest run: tokenise each text once.
    return frozenset(fold_tokens(search_text))


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
    An instant row carries the chat's strongly matched items, in one
    INSERT … SELECT; a chat with weaker matches gets its next held digest queued (one per chat
    and day, so queuing it again is a no-op: the digest finds the items itself when it is sent,
    see delivery.contents). That second pass runs only when some label of these items is below
    `min_score`. What a chat already has is taken out when a row is claimed."""
    live = live_subscriptions().where(Subscription.mode == SubscriptionMode.INSTANT).subquery()
    subs = (select(live.c.sid, live.c.chat_id.label("tag"), live.c.keywords)
            .cte("cand_subs").prefix_with("MATERIALIZED"))
    items = deliverable(item_ids).cte("cand_items").prefix_with("MATERIALIZED")
    keys = await keyword_keys(session, select(items.c.iid).subquery(), select(subs).subquery())

    def per_chat() -> Any:
        return by_tag(session, matching_pairs(session, subs, items, keys, min_score)
                      .subquery("pairs")).subquery("per_chat")

    chats = per_chat()
    # The same items give the same keys, so queuing them again (a retried transaction) is a
    # no-op; items are matched once (storage.leases.claim_unmatched), so keys never collide.
    batch = hashlib.sha1(",".join(map(str, item_ids)).encode()).hexdigest()[:16]
    key = literal("instant:") + cast(chats.c.tag, String) + literal(f":{batch}")
    # OutboxPayload(items=[...]).to_json(), built in SQL for every chat at once.
    payload = json_object_text(session, literal('{"items": [') + chats.c.strong + literal("]}"))
    instant = await insert_pending(
        session, chat_id=chats.c.tag, kind=DeliveryKind.INSTANT, lane=INTERACTIVE, dedup_key=key,
        payload=payload, due_at=now, now=now, where=chats.c.strong.is_not(None))
    if not await _any_weak_label(session, item_ids, min_score):
        return instant, 0
    chats = per_chat()
    weak = await session.execute(select(chats.c.tag, Chat.default_hour)
                                 .join(Chat, Chat.id == chats.c.tag)
                                 .where(chats.c.weak.is_not(None)))
    held = [held_row(chat_id, hour, due, tz) for chat_id, hour in weak
            for due in held_dues(hour, now, tz)]
    return instant, await insert_rows(session, held, now)


async def _any_weak_label(session: AsyncSession, item_ids: list[int], min_score: float) -> bool:
    """Whether any label of these items scores below `min_score`: without one, no match can be
    weak, and the second matching pass is skipped."""
    for model in (ItemProvince, ItemTopic):
        if await session.scalar(select(model.item_id).where(
                model.item_id.in_(item_ids), model.score < min_score).limit(1)) is not None:
            return True
    return False
