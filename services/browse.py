"""What the public web pages and Atom feeds read (web/): items by province and topic, newest
first, and counts. Read-only, and only items and their labels: nothing about chats or people.

Pages go by offset but stop at MAX_PAGE, so the deepest page skips 1,000 entries of a label's
date index (cheap, and it keeps the plain ?page= links, where keyset paging would not); a page
asks for one item more than it shows to know whether a next page exists, instead of counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, exists, func, select

from runtime import App
from storage.models import Item, ItemProvince, ItemTopic
from storage.views import ItemView, load_items

PER_PAGE = 20
MAX_PAGE = 50  # 1,000 items back; older ones are reached through search or the feeds
FEED_ENTRIES = 50
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ItemsPage:
    items: list[ItemView]
    page: int
    has_next: bool


def _live() -> ColumnElement[bool]:
    # Not a duplicate. Written as coalesce(…) = 0, not IS NULL: SQLite keeps no statistics and
    # would read every item through the duplicate_of index and sort them all, instead of walking
    # the published_at index newest first.
    return func.coalesce(Item.duplicate_of, 0) == 0


def _labelled(province: str | None, topic: str | None) -> Select[int]:
    """The ids of the items with these labels, newest first, read from the label's own index
    by date (storage migration 0005): a page costs about a page of rows, not the label's
    thousands of items sorted. A province × topic walks the province's index and keeps the
    items that have the topic."""
    if province:
        label: type[ItemProvince] | type[ItemTopic] = ItemProvince
        where = [ItemProvince.province == province]
        if topic:
            where.append(exists().where(ItemTopic.item_id == ItemProvince.item_id,
                                        ItemTopic.topic == topic))
    else:
        label, where = ItemTopic, [ItemTopic.topic == topic]
    return (select(label.item_id).join(Item, Item.id == label.item_id).where(*where, _live())
            .order_by(label.published_at.desc(), label.item_id.desc()))


async def newest(app: App, *, province: str | None = None, topic: str | None = None,
                 page: int = 1, per_page: int = PER_PAGE) -> ItemsPage:
    """The newest items about `province` and/or `topic` (or all), `per_page` at a time."""
    page = min(max(page, 1), MAX_PAGE)
    if province or topic:
        query = _labelled(province, topic)
    else:
        query = select(Item.id).where(_live()).order_by(Item.published_at.desc(), Item.id.desc())
    async with app.sessions() as session:
        ids = list((await session.scalars(
            query.limit(per_page + 1).offset((page - 1) * per_page))).all())
        views = await load_items(session, ids[:per_page])
    has_next = len(ids) > per_page and page < MAX_PAGE
    return ItemsPage([views[i] for i in ids[:per_page] if i in views], page, has_next)


async def feed_items(app: App, *, province: str | None = None,
                     topic: str | None = None) -> list[ItemView]:
    """The FEED_ENTRIES newest items of a feed."""
    return (await newest(app, province=province, topic=topic, per_page=FEED_ENTRIES)).items


async def latest_id(app: App) -> int:
    """The id of the newest stored item (0 when none): one step down the primary key, which
    tells a cached feed whether an item came since it was built."""
    async with app.sessions() as session:
        return int(await session.scalar(select(func.max(Item.id))) or 0)


def _recent(since: datetime) -> Select[int]:
    """Ids of the items published since `since`: the date index finds them, then their labels
    are looked up, rather than every label's item being checked for its date."""
    return select(Item.id).where(Item.published_at >= since, _live())


async def province_counts(app: App, since: datetime) -> dict[str, int]:
    """Items per province code published since `since` (provinces without any are left out)."""
    async with app.sessions() as session:
        rows = await session.execute(
            select(ItemProvince.province, func.count())
            .where(ItemProvince.item_id.in_(_recent(since)))
            .group_by(ItemProvince.province)
        )
        return {code: int(count) for code, count in rows}
