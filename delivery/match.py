"""Which subscriptions want which items: decided set-wise in SQL.

A subscription matches an item when every non-empty part matches: ANY of its topics, ANY of its
provinces, ALL of its keywords (whole words of the item's folded `search_text`). Paused
subscriptions, mode "off", inactive chats, backlog items and duplicates never match.

`matching_pairs` is the one matching query, used twice:
- `on_new_items` (at ingestion) queues one instant outbox row per chat that has an instant
  subscription matching any of the new items. It writes one row per chat, not per pair.
- `delivery.contents` (when the sender claims outbox rows) resolves exactly which items each
  claimed delivery carries, for instant batches and digests alike.

What a chat has been given is recorded per (chat, item) in `delivered_items` once sent; resolving
leaves out what a chat already has, so each item reaches a chat at most once, even when several
of its subscriptions match it.

The query is driven by the labels: the candidate items' provinces and topics (a few thousand rows)
are joined to the subscriptions' ones, per shape of subscription (provinces and topics, provinces
only, topics only, neither), so there is no OR over correlated subqueries and no scan of all
subscriptions × items. Keywords are few distinct phrases: each phrase is tested once per item in
Python with the same folding as search (`vntext.fold_tokens`), and SQL gets the
"phrase#item_id" keys that hold.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CTE,
    Select,
    String,
    cast,
    exists,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.pacing import INTERACTIVE
from delivery.sql import upsert_insert
from runtime import App
from storage.models import (
    Chat,
    Delivery,
    Item,
    ItemProvince,
    ItemTopic,
    Subscription,
    SubscriptionProvince,
    SubscriptionTopic,
    UTCDateTime,
)
from vntext import fold_tokens

log = logging.getLogger(__name__)

DIGEST_MODES = ("daily", "weekly")


def live_subscriptions() -> Select[Any]:
    """Subscriptions that may receive news now: not paused, not off, chat active."""
    return (
        select(Subscription.id.label("sid"), Subscription.chat_id.label("chat_id"),
               Subscription.keywords.label("keywords"))
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Subscription.paused.is_(False), Subscription.kind == "news",
               Chat.active.is_(True))
    )


def deliverable(item_ids: Select[Any] | list[int]) -> Select[Any]:
    """The given items that may be pushed: no backlog, no duplicates."""
    return select(Item.id.label("iid")).where(
        Item.id.in_(item_ids), Item.backlog.is_(False), Item.duplicate_of.is_(None)
    )


def matching_pairs(subs: CTE, items: CTE, keyword_keys: Iterable[str]) -> Select[Any]:
    """(tag, item_id) for every subscription in `subs` (columns sid, tag, keywords) and item in
    `items` (column iid) that match. A pair can come out more than once (several subscriptions
    or topics); callers use DISTINCT or GROUP BY."""
    st, sp = SubscriptionTopic.__table__, SubscriptionProvince.__table__
    # The candidate items' labels, materialised once: small, and the join starts from them.
    item_provinces = (
        select(ItemProvince.item_id, ItemProvince.province)
        .where(ItemProvince.item_id.in_(select(items.c.iid)))
        .cte("cand_provinces").prefix_with("MATERIALIZED")
    )
    item_topics = (
        select(ItemTopic.item_id, ItemTopic.topic)
        .where(ItemTopic.item_id.in_(select(items.c.iid)))
        .cte("cand_topics").prefix_with("MATERIALIZED")
    )
    ip, it = item_provinces, item_topics
    st2, sp2 = st.alias("st_none"), sp.alias("sp_none")
    no_topics = ~exists().where(st2.c.subscription_id == subs.c.sid)
    no_provinces = ~exists().where(sp2.c.subscription_id == subs.c.sid)

    def keep(query: Select[Any], item_col: Any) -> Select[Any]:
        keys = sorted(keyword_keys)
        plain = subs.c.keywords == ""
        if not keys:
            return query.where(plain)
        key = subs.c.keywords + literal("#") + cast(item_col, String)
        return query.where(or_(plain, key.in_(keys)))

    provinces_only = keep(
        select(subs.c.tag, ip.c.item_id)
        .join(sp, sp.c.subscription_id == subs.c.sid)
        .join(ip, ip.c.province == sp.c.province)
        .where(no_topics),
        ip.c.item_id,
    )
    provinces_and_topics = keep(
        select(subs.c.tag, ip.c.item_id)
        .join(sp, sp.c.subscription_id == subs.c.sid)
        .join(ip, ip.c.province == sp.c.province)
        .join(st, st.c.subscription_id == subs.c.sid)
        .join(it, (it.c.item_id == ip.c.item_id) & (it.c.topic == st.c.topic)),
        ip.c.item_id,
    )
    topics_only = keep(
        select(subs.c.tag, it.c.item_id)
        .join(st, st.c.subscription_id == subs.c.sid)
        .join(it, it.c.topic == st.c.topic)
        .where(no_provinces),
        it.c.item_id,
    )
    everything = keep(
        select(subs.c.tag, items.c.iid)
        .join(items, true())  # a deliberate cross join: these subscriptions take every item
        .where(no_topics, no_provinces),
        items.c.iid,
    )
    return union_all(provinces_only, provinces_and_topics, topics_only, everything)  # type: ignore[return-value]


async def keyword_keys(session: AsyncSession, items: Select[Any], subs: Select[Any]) -> set[str]:
    """"phrase#item_id" for every keyword phrase of `subs` (column keywords) whose words all
    occur in the item's folded text."""
    phrases = (
        await session.scalars(
            select(subs.c.keywords).where(subs.c.keywords != "").distinct()
        )
    ).all()
    if not phrases:
        return set()
    texts = await session.execute(
        select(Item.id, Item.search_text).where(Item.id.in_(select(items.c.iid)))
    )
    items_with: dict[str, set[int]] = defaultdict(set)
    for item_id, search_text in texts:
        for word in set(fold_tokens(search_text)):
            items_with[word].add(item_id)
    keys: set[str] = set()
    for phrase in phrases:
        words = fold_tokens(phrase)
        if words:
            found = set.intersection(*(items_with.get(w, set()) for w in words))
            keys.update(f"{phrase}#{item_id}" for item_id in found)
    return keys


async def on_new_items(app: App, item_ids: list[int]) -> None:
    """Called by the poller after it stores and classifies new, deliverable items: one instant
    outbox row for each chat that an instant subscription of it matches. Digests pick the items
    up at their hour (delivery.digests)."""
    if not item_ids:
        return
    async with app.sessions() as session, session.begin():
        queued = await queue_instant(session, sorted(set(item_ids)), app.clock())
    log.info("%d new items: instant messages queued for %d chats", len(item_ids), queued)


async def queue_instant(session: AsyncSession, item_ids: list[int], now: datetime) -> int:
    """Queue the instant rows for these new items; returns how many chats get one."""
    live = live_subscriptions().where(Subscription.mode == "instant").subquery()
    subs = select(live.c.sid, live.c.chat_id.label("tag"), live.c.keywords).cte("cand_subs")
    items = deliverable(item_ids).cte("cand_items")
    keys = await keyword_keys(session, select(items.c.iid).subquery(), select(subs).subquery())
    pairs = matching_pairs(subs, items, keys).subquery("pairs")
    token = uuid.uuid4().hex[:16]
    chats = select(pairs.c.tag.label("chat_id")).distinct().subquery("chats")
    key = literal("instant:") + cast(chats.c.chat_id, String) + literal(f":{token}")
    rows = select(
        chats.c.chat_id,
        literal("instant").label("kind"),
        literal(INTERACTIVE).label("lane"),
        key.label("dedup_key"),
        literal({"items": item_ids}, JSON()).label("payload"),
        literal(now, UTCDateTime()).label("due_at"),
        literal("pending").label("state"),
        literal(0).label("parts_sent"),
        literal(0).label("attempts"),
        literal(now, UTCDateTime()).label("created_at"),
    ).where(true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as a join's ON
    columns = ["chat_id", "kind", "lane", "dedup_key", "payload", "due_at", "state",
               "parts_sent", "attempts", "created_at"]
    result = await session.execute(
        upsert_insert(session, Delivery).from_select(columns, rows).on_conflict_do_nothing(),
        execution_options={"preserve_rowcount": True},
    )
    return max(result.rowcount or 0, 0)
