"""What the public web pages and Atom feeds read (web/): items by province and topic, newest
first, and counts. Read-only, and only items and their labels: nothing about chats or people.

Pages go by offset but stop at MAX_PAGE, so no request walks deep into the table; a page asks
for one item more than it shows to know whether a next page exists, instead of counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, select

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


def _filters(province: str | None, topic: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [Item.duplicate_of.is_(None)]
    if province:
        where.append(exists().where(ItemProvince.item_id == Item.id,
                                    ItemProvince.province == province))
    if topic:
        where.append(exists().where(ItemTopic.item_id == Item.id, ItemTopic.topic == topic))
    return where


async def newest(app: App, *, province: str | None = None, topic: str | None = None,
                 page: int = 1, per_page: int = PER_PAGE) -> ItemsPage:
    """The newest items about `province` and/or `topic`, `per_page` at a time."""
    page = min(max(page, 1), MAX_PAGE)
    async with app.sessions() as session:
        ids = list((await session.scalars(
            select(Item.id).where(*_filters(province, topic))
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


async def province_counts(app: App, since: datetime) -> dict[str, int]:
    """Items per province code published since `since` (provinces without any are left out)."""
    async with app.sessions() as session:
        rows = await session.execute(
            select(ItemProvince.province, func.count())
            .join(Item, Item.id == ItemProvince.item_id)
            .where(Item.published_at >= since, Item.duplicate_of.is_(None))
            .group_by(ItemProvince.province)
        )
        return {code: int(count) for code, count in rows}


async def topic_counts(app: App, province: str, since: datetime) -> dict[str, int]:
    """Items per topic slug about `province` published since `since`."""
    async with app.sessions() as session:
        rows = await session.execute(
            select(ItemTopic.topic, func.count())
            .join(Item, Item.id == ItemTopic.item_id)
            .where(Item.published_at >= since, *_filters(province, None))
            .group_by(ItemTopic.topic)
        )
        return {slug: int(count) for slug, count in rows}
