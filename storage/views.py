"""Items as the composer needs them: one bulk load for many items, no lazy loading."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import among
from storage.models import Item, ItemProvince, ItemTopic, Source

# Keeps every IN (...) list well under SQLite's bound-parameter limit, and the id lists sent
# whole as one parameter (`storage.dialect.among`) to a bounded statement.
CHUNK = 5000


@dataclass(frozen=True)
class ItemView:
    id: int
    title: str
    summary: str
    url: str
    published_at: datetime
    source_name: str
    provinces: tuple[str, ...] = ()  # current province codes, most relevant first
    topics: tuple[str, ...] = ()  # topic slugs


def chunks(values: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def load_items(session: AsyncSession, item_ids: Iterable[int]) -> dict[int, ItemView]:
    """The items with these ids (missing ones are left out), with their labels."""
    ids = sorted(set(item_ids))
    rows: dict[int, tuple[Any, ...]] = {}
    provinces: dict[int, list[str]] = defaultdict(list)
    topics: dict[int, list[str]] = defaultdict(list)
    # Read through the tables, not the ORM classes: plain rows, no ORM result processing.
    item, source = Item.__table__.c, Source.__table__.c
    ip, it = ItemProvince.__table__.c, ItemTopic.__table__.c
    for part in chunks(ids):
        result = await session.execute(
            select(item.id, item.title, item.summary, item.canonical_url, item.published_at,
                   source.name)
            .join_from(Item.__table__, Source.__table__, source.id == item.source_id)
            .where(among(session, item.id, part))
        )
        for row in result:
            rows[row[0]] = tuple(row)
        labels = await session.execute(
            select(ip.item_id, ip.province)
            .where(among(session, ip.item_id, part))
            .order_by(ip.item_id, ip.rank, ip.province)
        )
        for item_id, code in labels:
            provinces[item_id].append(code)
        labels = await session.execute(
            select(it.item_id, it.topic)
            .where(among(session, it.item_id, part))
            .order_by(it.item_id, it.topic)
        )
        for item_id, slug in labels:
            topics[item_id].append(slug)
    return {
        item_id: ItemView(
            id=item_id, title=title, summary=summary, url=url, published_at=published,
            source_name=source or "", provinces=tuple(provinces[item_id]),
            topics=tuple(topics[item_id]),
        )
        for item_id, (_, title, summary, url, published, source) in rows.items()
    }
