"""What the public web pages and Atom feeds read (web/): items by province and topic, newest
first, and counts. Read-only, and only items and their labels: nothing about chats or people.

Pages go by offset but stop at MAX_PAGE, so no request walks deep into the table; a page asks
for one item more than it shows to know whether a next page exists, instead of counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def _has(province: str | None, topic: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if province:
        where.append(exists().where(ItemProvince.item_id == Item.id,
                                    ItemProvince.province == province))
    if topic:
        where.append(exists().where(ItemTopic.item_id == Item.id, ItemTopic.topic == topic))
    return where


async def _labelled(session: AsyncSession, province: str | None, topic: str | None,
                    wanted: int) -> ColumnElement[bool] | None:
    """How to find the newest `wanted` items with these labels: None to walk all items newest
    first, checking each one's labels (cheap when they are common), or a condition that starts
    from the labels' own index and sorts what it finds (cheap when they are rare).

    Both labels are rare together: the intersection. One label: whichever reads fewer rows,
    `wanted × items / labelled` for the walk or `labelled` for the label's index."""
    by_province = select(ItemProvince.item_id).where(ItemProvince.province == province)
    by_topic = select(ItemTopic.item_id).where(ItemTopic.topic == topic)
    if province and topic:
        return Item.id.in_(by_province.intersect(by_topic))
    if not (province or topic):
        return None
    label = by_province if province else by_topic
    labelled = int(await session.scalar(select(func.count()).select_from(label.subquery())) or 0)
    items = int(await session.scalar(select(func.max(Item.id))) or 0)  # about the count, at once
    return None if wanted * items < labelled * labelled else Item.id.in_(label)


async def newest(app: App, *, province: str | None = None, topic: str | None = None,
                 page: int = 1, per_page: int = PER_PAGE) -> ItemsPage:
    """The newest items about `province` and/or `topic`, `per_page` at a time."""
    page = min(max(page, 1), MAX_PAGE)
    async with app.sessions() as session:
        start = await _labelled(session, province, topic, page * per_page + 1)
        where = [_live(), *([start] if start is not None else _has(province, topic))]
        ids = list((await session.scalars(
            select(Item.id).where(*where)
            .order_by(Item.published_at.desc(), Item.id.desc())
            .limit(per_page + 1).offset((page - 1) * per_page)
        )).all())
        views = await load_items(session, ids[:per_page])
    has_next = len(ids) > per_page and page < MAX_PAGE
    return ItemsPage([views[i] for i in ids[:per_page] if i in views], page, has_next)


async def feed_items(app: App, *, province: str | None = None,
                     topic: str | None = None) -> list[ItemView]:
    """The FEED_ENTRIES newest items of a feed."""
    return (await newest(app, province=province, topic=topic, per_page=FEED_ENTRIES)).items


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


async def topic_counts(app: App, province: str, since: datetime) -> dict[str, int]:
    """Items per topic slug about `province` published since `since`."""
    recent = _recent(since).where(exists().where(ItemProvince.item_id == Item.id,
                                                 ItemProvince.province == province))
    async with app.sessions() as session:
        rows = await session.execute(
            select(ItemTopic.topic, func.count())
            .where(ItemTopic.item_id.in_(recent))
            .group_by(ItemTopic.topic)
        )
        return {slug: int(count) for slug, count in rows}
