"""An item's province and topic labels, each with the evidence and the score that produced it.

What it stores, it defines (`Labels`): ingest and services turn a classification into it
(ingest.labels), so storage knows nothing of the classifier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ItemProvince, ItemTopic

# Scores are compared at this many decimals: a float's round trip through a database column
# must not count as a change.
SCORE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Label:
    """One label: a province code or a topic slug, its confidence 0..1 and the evidence."""

    value: str
    score: float = 1.0
    evidence: tuple[dict[str, Any], ...] = ()  # JSON objects, as stored


@dataclass(frozen=True, slots=True)
class Labels:
    """An item's labels, each label once: provinces most relevant first (stored as their rank)."""

    provinces: tuple[Label, ...] = ()
    topics: tuple[Label, ...] = ()


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


def _rows(labelled: Iterable[tuple[int, Labels]]
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    provinces: list[dict[str, Any]] = []
    topics: list[dict[str, Any]] = []
    for item_id, labels in labelled:
        for rank, province in enumerate(labels.provinces):
            provinces.append({"item_id": item_id, "province": province.value, "rank": rank,
                              "evidence": list(province.evidence), "score": province.score})
        for topic in labels.topics:
            topics.append({"item_id": item_id, "topic": topic.value,
                           "evidence": list(topic.evidence), "score": topic.score})
    return provinces, topics


async def add_labels(session: AsyncSession,
                     labelled: Iterable[tuple[int, Labels]]) -> None:
    """Labels of items that have none yet (the pipeline's new items): one INSERT per table for
    the whole batch instead of per-item round trips."""
    provinces, topics = _rows(labelled)
    if provinces:
        await session.execute(insert(ItemProvince), provinces)
    if topics:
        await session.execute(insert(ItemTopic), topics)


async def replace_labels(session: AsyncSession,
                         labelled: Sequence[tuple[int, Labels]]) -> LabelChanges:
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


async def save_labels(session: AsyncSession, item_id: int, labels: Labels) -> LabelChanges:
    """Replace the labels of one item (provinces ranked, most relevant first)."""
    return await replace_labels(session, [(item_id, labels)])
