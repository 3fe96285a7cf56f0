"""What the public web pages and Atom feeds read (web/): items by province and topic, newest
first, and counts. Read-only, and only items and their labels: nothing about chats or people.

Pages go by offset but stop at MAX_PAGE, so no request walks deep into the table; a page asks
for one item more than it shows to know whether a next page exists, instead of counting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from runtime import App
from storage.models import Item, ItemProvince, ItemTopic
from storage.views import ItemView, load_items

PER_PAGE = 20
MAX_PAGE = 50  # 1,000 items back; older ones are reached through search or the feeds
FEED_ENTRIES = 50
WEEK = timedelta(days=7)
# newest(): how many of the newest items to read, per item wanted, before asking the labels.
# A province holds about 1/34 of the items and a topic 1/13: 64 per item finds a page at once.
WALK_FACTOR = 64
MIN_WINDOW = 2000


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


def _has(item_id: SQLColumnExpression[int], province: str | None,
         topic: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if province:
        where.append(exists().where(ItemProvince.item_id == item_id,
                                    ItemProvince.province == province))
    if topic:
        where.append(exists().where(ItemTopic.item_id == item_id, ItemTopic.topic == topic))
    return where


def _from_labels(province: str | None, topic: str | None) -> ColumnElement[bool]:
    """The item is labelled so, found from a label's own index: the province's items (checked
    for the topic when there is one), or the topic's."""
    if province:
        labelled = select(ItemProvince.item_id).where(
            ItemProvince.province == province, *_has(ItemProvince.item_id, None, topic))
    else:
        labelled = select(ItemTopic.item_id).where(ItemTopic.topic == topic)
    return Item.id.in_(labelled)


async def _labelled_ids(session: AsyncSession, province: str | None, topic: str | None,
                        per_page: int, offset: int) -> list[int]:
    return list((await session.scalars(
        select(Item.id).where(_live(), _from_labels(province, topic))
        .order_by(Item.published_at.desc(), Item.id.desc()).limit(per_page + 1).offset(offset)
    )).all())


async def newest(app: App, *, province: str | None = None, topic: str | None = None,
                 page: int = 1, per_page: int = PER_PAGE) -> ItemsPage:
    """The newest items about `province` and/or `topic`, `per_page` at a time.

    Two plans. For one label, read the newest WALK_FACTOR × (items wanted) items by date and keep
    those with the label, which finds a page of a common label (a province, a topic) at once;
    when that window holds too few, and for a province × topic, start from the label's index and
    sort what it holds."""
    page = min(max(page, 1), MAX_PAGE)
    offset, wanted = (page - 1) * per_page, page * per_page + 1
    order = (Item.published_at.desc(), Item.id.desc())
    async with app.sessions() as session:
        if province and topic:  # about 1 item in 900: no window would be wide enough
            ids = await _labelled_ids(session, province, topic, per_page, offset)
        elif province or topic:
            # The window is read from the date index alone; only the items that have the
            # labels are then looked up, to leave duplicates out.
            window = (select(Item.id, Item.published_at).order_by(*order)
                      .limit(max(MIN_WINDOW, WALK_FACTOR * wanted)).subquery())
            ids = list((await session.scalars(
                select(window.c.id).join(Item, Item.id == window.c.id)
                .where(*_has(window.c.id, province, topic), Item.duplicate_of.is_(None))
                .order_by(window.c.published_at.desc(), window.c.id.desc())
                .limit(per_page + 1).offset(offset)
            )).all())
            if len(ids) <= per_page:  # the window held too few: ask the labels
                ids = await _labelled_ids(session, province, topic, per_page, offset)
        else:
            ids = list((await session.scalars(
                select(Item.id).where(_live()).order_by(*order)
                .limit(per_page + 1).offset(offset)
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
