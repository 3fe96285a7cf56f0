"""/why: an item's labels with their evidence, and which of the chat's subscriptions it matched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from classify import Evidence, EvidenceKind
from model.enums import SubscriptionKind
from runtime import App
from services.errors import Refusal, ServiceError
from services.subscriptions import SubInfo, list_subscriptions
from storage.models import DeliveredItem, Item, ItemProvince, ItemTopic
from storage.views import ItemView, load_items
from vntext import fold_tokens


@dataclass(frozen=True)
class Label:
    label: str  # province code or topic slug
    evidence: list[Evidence]
    score: float  # the classifier's confidence, 0..1
    instant: bool  # at or above settings.instant_min_score: may trigger an instant alert


@dataclass(frozen=True)
class Explanation:
    item: ItemView
    provinces: list[Label]  # most relevant first
    topics: list[Label]
    sent_for: SubInfo | None  # the subscription it was delivered for, if it was
    matches: list[SubInfo]  # the chat's subscriptions it satisfies now


def _satisfies(sub: SubInfo, item: ItemView, words: set[str]) -> bool:
    return ((not sub.topics or bool(set(sub.topics) & set(item.topics)))
            and (not sub.provinces or bool(set(sub.provinces) & set(item.provinces)))
            and set(fold_tokens(sub.keywords)) <= words)


def _evidence(stored: list[Any] | None, kind: EvidenceKind, label: str) -> list[Evidence]:
    return [Evidence.from_json(e, kind, label) for e in stored or ()]


async def explain(app: App, chat_id: int, item_id: int) -> Explanation:
    async with app.sessions() as session:
        views = await load_items(session, [item_id])
        if item_id not in views:
            raise ServiceError(Refusal.ITEM_NOT_FOUND, f"no item {item_id}", value=item_id)
        threshold = app.settings.instant_min_score
        provinces = [Label(code, _evidence(evidence, EvidenceKind.PROVINCE, code), score,
                           score >= threshold)
                     for code, evidence, score in await session.execute(
                         select(ItemProvince.province, ItemProvince.evidence, ItemProvince.score)
                         .where(ItemProvince.item_id == item_id)
                         .order_by(ItemProvince.rank, ItemProvince.province))]
        topics = [Label(slug, _evidence(evidence, EvidenceKind.TOPIC, slug), score,
                        score >= threshold)
                  for slug, evidence, score in await session.execute(
                      select(ItemTopic.topic, ItemTopic.evidence, ItemTopic.score)
                      .where(ItemTopic.item_id == item_id).order_by(ItemTopic.topic))]
        text = await session.scalar(select(Item.search_text).where(Item.id == item_id)) or ""
        sent_sub_id = await session.scalar(select(DeliveredItem.subscription_id).where(
            DeliveredItem.chat_id == chat_id, DeliveredItem.item_id == item_id))
    item = views[item_id]
    subs = [s for s in await list_subscriptions(app, chat_id) if s.kind == SubscriptionKind.NEWS]
    words = set(fold_tokens(f"{item.title} {text}"))
    return Explanation(item, provinces, topics,
                       next((s for s in subs if s.id == sent_sub_id), None),
                       [s for s in subs if _satisfies(s, item, words)])
