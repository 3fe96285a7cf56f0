"""An item's province and topic labels, each with the evidence and the score that produced it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from classify import Classification
from classify.confidence import label_score
from storage.models import ItemProvince, ItemTopic

# Scores are compared at this many decimals: a float's round trip through a database column
# must not count as a change.
SCORE_DIGITS = 6


@dataclass
class LabelChanges:
    """What replacing labels changed: labels added, removed, or kept with another score."""

    items: int = 0  # items whose labels were replaced
    changed_items: int = 0  # of those, items with at least one change
    added: int = 0
    removed: int = 0
    rescored: int = 0

    def __iadd__(self, other: LabelChanges) -> Self:
        self.items += other.items
        self.changed_items += other.changed_items
        self.added += other.added
        self.removed += other.removed
        self.rescored += other.rescored
        return self


def _evidence(classification: Classification, kind: str, label: str) -> list[dict[str, Any]]:
    return [e for e in classification.evidence if e.get("kind") == kind and e.get("label") == label]


def _rows(labelled: Iterable[tuple[int, Classification]]
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    provinces: list[dict[str, Any]] = []
    topics: list[dict[str, Any]] = []
    for item_id, classification in labelled:
        for rank, code in enumerate(dict.fromkeys(classification.provinces)):
            provinces.append({"item_id": item_id, "province": code, "rank": rank,
                              "evidence": _evidence(classification, "province", code),
                              "score": label_score(classification, code)})
        for slug in dict.fromkeys(classification.topics):
            topics.append({"item_id": item_id, "topic": slug,
                           "evidence": _evidence(classification, "topic", slug),
                           "score": label_score(classification, slug)})
    return provinces, topics


async def add_labels(session: AsyncSession,
                     labelled: Iterable[tuple[int, Classification]]) -> None:
    """Labels of items that have none yet (the poller's new items): one INSERT per table for
    the whole batch instead of per-item round trips."""
    provinces, topics = _rows(labelled)
    if provinces:
        await session.execute(insert(ItemProvince), provinces)
    if topics:
        await session.execute(insert(ItemTopic), topics)


async def replace_labels(session: AsyncSession,
                         labelled: Sequence[tuple[int, Classification]]) -> LabelChanges:
    """Replace the labels of these items in `session` and say what changed.

    The caller commits, so an item and its labels are stored together or not at all."""
    ids = [item_id for item_id, _ in labelled]
    old: dict[tuple[int, str, str], float] = {}
    for model, column in ((ItemProvince, ItemProvince.province), (ItemTopic, ItemTopic.topic)):
        result = await session.execute(
            select(model.item_id, column, model.score).where(model.item_id.in_(ids)))
        old.update({(item_id, model.__tablename__, label): score
                    for item_id, label, score in result})
        await session.execute(delete(model).where(model.item_id.in_(ids)))
    provinces, topics = _rows(labelled)
    new = {(row["item_id"], table, row[column]): row["score"]
           for table, column, rows in (("item_provinces", "province", provinces),
                                       ("item_topics", "topic", topics)) for row in rows}
    if provinces:
        await session.execute(insert(ItemProvince), provinces)
    if topics:
        await session.execute(insert(ItemTopic), topics)
    rescored = {key for key in old.keys() & new.keys()
                if round(old[key], SCORE_DIGITS) != round(new[key], SCORE_DIGITS)}
    added, removed = new.keys() - old.keys(), old.keys() - new.keys()
    return LabelChanges(items=len(set(ids)),
                        changed_items=len({key[0] for key in added | removed | rescored}),
                        added=len(added), removed=len(removed), rescored=len(rescored))


async def save_labels(session: AsyncSession, item_id: int,
                      classification: Classification) -> LabelChanges:
    """Replace the labels of one item (provinces ranked, most relevant first)."""
    return await replace_labels(session, [(item_id, classification)])
