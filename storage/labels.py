"""An item's province and topic labels, each with the evidence that produced it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from classify import Classification
from storage.models import ItemProvince, ItemTopic


def _evidence(classification: Classification, kind: str, label: str) -> list[dict[str, Any]]:
    return [e for e in classification.evidence if e.get("kind") == kind and e.get("label") == label]


async def save_labels(session: AsyncSession, item_id: int,
                      classification: Classification) -> None:
    """Replace the labels of one item in `session` (provinces ranked, most relevant first).

    The caller commits, so an item and its labels are stored together or not at all.
    """
    await session.execute(delete(ItemProvince).where(ItemProvince.item_id == item_id))
    await session.execute(delete(ItemTopic).where(ItemTopic.item_id == item_id))
    for rank, code in enumerate(dict.fromkeys(classification.provinces)):
        session.add(ItemProvince(item_id=item_id, province=code, rank=rank,
                                 evidence=_evidence(classification, "province", code)))
    for slug in dict.fromkeys(classification.topics):
        session.add(ItemTopic(item_id=item_id, topic=slug,
                              evidence=_evidence(classification, "topic", slug)))


async def add_labels(session: AsyncSession,
                     labelled: Iterable[tuple[int, Classification]]) -> None:
    """Labels of items that have none yet (the poller's new items): one INSERT per table for
    the whole batch instead of per-item round trips."""
    provinces: list[dict[str, Any]] = []
    topics: list[dict[str, Any]] = []
    for item_id, classification in labelled:
        for rank, code in enumerate(dict.fromkeys(classification.provinces)):
            provinces.append({"item_id": item_id, "province": code, "rank": rank,
                              "evidence": _evidence(classification, "province", code)})
        for slug in dict.fromkeys(classification.topics):
            topics.append({"item_id": item_id, "topic": slug,
                           "evidence": _evidence(classification, "topic", slug)})
    if provinces:
        await session.execute(insert(ItemProvince), provinces)
    if topics:
        await session.execute(insert(ItemTopic), topics)
