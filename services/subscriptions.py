"""A chat's subscriptions: create, list, change delivery, pause, edit, remove.

A subscription matches an item when every non-empty part matches: any of its topics AND any of its
provinces AND all of its keywords. Officials' province reports are subscriptions of kind "report".
Subscriptions are numbered 1, 2, … in creation order, so that they can be named by typing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import catalog
from model.enums import SubscriptionKind, SubscriptionMode
from runtime import App
from services import limits
from services.errors import Refusal, ServiceError
from services.users import Person
from storage.dialect import rowcount
from storage.models import Chat, Subscription, SubscriptionProvince, SubscriptionTopic
from vntext import fold_tokens, normalize

MODES = tuple(SubscriptionMode)
_WORD = re.compile(r"\w+")
MAX_PER_CHAT = 50  # enough for any real reader; stops a runaway script filling the table


@dataclass(frozen=True)
class Cadence:
    """When a subscription is delivered (mode, local hour, weekday); the outbox row is storage's
    Delivery."""

    mode: SubscriptionMode | str  # a plain str from chat or CLI becomes a SubscriptionMode
    hour: int = 7  # local hour, for digests
    weekday: int = 0  # 0 = Monday, for weekly digests

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ServiceError(Refusal.BAD_DELIVERY, f"unknown delivery mode {self.mode!r}")
        object.__setattr__(self, "mode", SubscriptionMode(self.mode))
        if not 0 <= self.hour <= 23:
            raise ServiceError(Refusal.BAD_HOUR, f"hour {self.hour} is not 0-23", value=self.hour)
        if not 0 <= self.weekday <= 6:
            raise ServiceError(Refusal.BAD_WEEKDAY, f"weekday {self.weekday} is not 0-6")


@dataclass(frozen=True)
class SubInfo:
    id: int
    number: int  # 1-based position in the chat's list
    kind: str  # news | report
    topics: tuple[str, ...]
    provinces: tuple[str, ...]
    keywords: str  # the words as the user typed them (marks kept); fold them to match
    label: str
    delivery: Cadence
    paused: bool

    @property
    def is_everything(self) -> bool:
        return not (self.topics or self.provinces or self.keywords)


def fold_keywords(text: str | Iterable[str]) -> str:
    """Keywords as they are compared: folded words ("Lũ lụt" → "lu lut")."""
    words = text if isinstance(text, str) else " ".join(text)
    return " ".join(fold_tokens(limits.check_text(words, limits.MAX_NAME_CHARS)))[:256]


def _clean_label(label: str) -> str:
    return normalize(limits.check_text(label, limits.MAX_NAME_CHARS))[:256]


def check_allowed(person: Person, kind: str, provinces: Iterable[str]) -> None:
    """The one rule for who may have which subscription: news for anyone (all that /sub and
    /start make); a province report only for provinces the person is an official of (admins:
    any), and never for no province, which would be every province. Used by every change to a
    subscription (/edit, the fix buttons) and by /report."""
    if kind != "report" or person.role == "admin":
        return
    codes = sorted(set(provinces))
    foreign = [c for c in codes if c not in person.provinces]
    if foreign or not codes:
        names = ", ".join(catalog.province_name(c) for c in foreign) or "–"
        raise ServiceError(Refusal.REPORT_NOT_YOURS, f"{person.channel}:{person.user_key} is not an"
                           f" official of {', '.join(foreign) or 'every province'}", names=names)


def keyword_text(text: str | Iterable[str]) -> str:
    """Keywords as they are stored and shown: the user's words with their marks, punctuation
    dropped, so that what is shown folds to exactly what is matched ("Lũ lụt!" → "Lũ lụt")."""
    words = text if isinstance(text, str) else " ".join(text)
    return " ".join(_WORD.findall(normalize(limits.check_text(words, limits.MAX_NAME_CHARS))))


def _check_labels(topics: Iterable[str], provinces: Iterable[str]) -> tuple[list[str], list[str]]:
    topics, provinces = sorted(set(topics)), sorted(set(provinces))
    bad = [t for t in topics if t not in catalog.topics()]
    bad += [p for p in provinces if p not in catalog.provinces()]
    if bad:
        raise ServiceError(Refusal.BAD_LABEL, f"unknown topic or province: {', '.join(bad)}",
                           value=", ".join(bad))
    return topics, provinces


async def _load(session: AsyncSession, chat_id: int) -> list[SubInfo]:
    subs = (await session.scalars(
        select(Subscription).where(Subscription.chat_id == chat_id)
        .order_by(Subscription.id))).all()
    ids = [s.id for s in subs]
    topics: dict[int, list[str]] = {i: [] for i in ids}
    provinces: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for sid, topic in await session.execute(
                select(SubscriptionTopic.subscription_id, SubscriptionTopic.topic)
                .where(SubscriptionTopic.subscription_id.in_(ids))):
            topics[sid].append(topic)
        for sid, code in await session.execute(
                select(SubscriptionProvince.subscription_id, SubscriptionProvince.province)
                .where(SubscriptionProvince.subscription_id.in_(ids))):
            provinces[sid].append(code)
    order = list(catalog.topics())
    return [SubInfo(s.id, n, s.kind, tuple(sorted(topics[s.id], key=order.index)),
                    tuple(sorted(provinces[s.id])), s.keywords, s.label,
                    Cadence(s.mode, s.hour, s.weekday), s.paused)
            for n, s in enumerate(subs, start=1)]


async def list_subscriptions(app: App, chat_id: int) -> list[SubInfo]:
    async with app.sessions() as session:
        return await _load(session, chat_id)


async def find(app: App, chat_id: int, *, sub_id: int | None = None,
               number: int | None = None) -> SubInfo:
    """One of the chat's subscriptions, by id (buttons) or by its number in the list (typing)."""
    for sub in await list_subscriptions(app, chat_id):
        if sub.id == sub_id or sub.number == number:
            return sub
    raise ServiceError(Refusal.SUB_NOT_FOUND, f"chat {chat_id} has no subscription "
                       f"{sub_id if sub_id is not None else f'number {number}'}",
                       number=number if number is not None else "")


async def subscribe(app: App, chat_id: int, *, topics: Iterable[str] = (),
                    provinces: Iterable[str] = (), keywords: str | Iterable[str] = "",
                    label: str = "", delivery: Cadence | None = None) -> SubInfo:
    """A new news subscription, with the chat's default delivery unless one is given."""
    topics, provinces = _check_labels(topics, provinces)
    folded, label = fold_keywords(keywords), _clean_label(label)
    async with app.sessions() as session, session.begin():
        chat = await session.get(Chat, chat_id)
        if chat is None:
            raise ServiceError(Refusal.CHAT_GONE, f"chat {chat_id} does not exist")
        current = await _load(session, chat_id)
        for info in current:
            same = (set(info.topics), set(info.provinces), fold_keywords(info.keywords)) == (
                set(topics), set(provinces), folded)
            if info.kind == SubscriptionKind.NEWS and same:
                raise ServiceError(Refusal.SUB_EXISTS, "the same subscription exists",
                                   number=info.number)
        if len(current) >= MAX_PER_CHAT:
            raise ServiceError(Refusal.TOO_MANY_SUBS, f"chat has {len(current)} subscriptions",
                               limit=MAX_PER_CHAT)
        delivery = delivery or Cadence(chat.default_mode, chat.default_hour, chat.default_weekday)
        sub = Subscription(
            chat_id=chat_id,
            kind=SubscriptionKind.NEWS,
            keywords=keyword_text(keywords),
            label=label,
            mode=delivery.mode,
            hour=delivery.hour,
            weekday=delivery.weekday,
        )
        session.add(sub)
        await session.flush()
        session.add_all(SubscriptionTopic(subscription_id=sub.id, topic=t) for t in topics)
        session.add_all(SubscriptionProvince(subscription_id=sub.id, province=p) for p in provinces)
        await session.flush()
        return next(s for s in await _load(session, chat_id) if s.id == sub.id)


async def update_subscription(app: App, chat_id: int, sub_id: int, *, person: Person,
                              topics: Iterable[str] | None = None,
                              provinces: Iterable[str] | None = None,
                              keywords: str | Iterable[str] | None = None,
                              label: str | None = None) -> SubInfo:
    """Replace the parts that are given; the others stay. `person` is who asks: a report
    subscription may only name their provinces (`check_allowed`)."""
    sub = await find(app, chat_id, sub_id=sub_id)
    new_topics, new_provinces = _check_labels(
        sub.topics if topics is None else topics, sub.provinces if provinces is None else provinces)
    check_allowed(person, sub.kind, new_provinces)
    label = None if label is None else _clean_label(label)
    async with app.sessions() as session, session.begin():
        values: dict[str, object] = {}
        if keywords is not None:
            values["keywords"] = keyword_text(keywords)
        if label is not None:
            values["label"] = label
        if values:
            await session.execute(
                update(Subscription).where(Subscription.id == sub_id).values(**values))
        if topics is not None:
            await session.execute(
                delete(SubscriptionTopic).where(SubscriptionTopic.subscription_id == sub_id))
            session.add_all(SubscriptionTopic(subscription_id=sub_id, topic=t) for t in new_topics)
        if provinces is not None:
            await session.execute(
                delete(SubscriptionProvince).where(SubscriptionProvince.subscription_id == sub_id))
            session.add_all(SubscriptionProvince(subscription_id=sub_id, province=p)
                            for p in new_provinces)
        await session.flush()
        return next(s for s in await _load(session, chat_id) if s.id == sub_id)


async def unsubscribe(app: App, chat_id: int, sub_id: int) -> SubInfo:
    sub = await find(app, chat_id, sub_id=sub_id)
    async with app.sessions() as session, session.begin():
        await session.execute(delete(Subscription).where(Subscription.id == sub.id))
    return sub


async def set_paused(app: App, chat_id: int, sub_id: int, paused: bool) -> SubInfo:
    sub = await find(app, chat_id, sub_id=sub_id)
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Subscription).where(Subscription.id == sub.id).values(paused=paused))
    return await find(app, chat_id, sub_id=sub_id)


async def set_delivery(app: App, chat_id: int, delivery: Cadence,
                       sub_id: int | None = None) -> int:
    """One subscription's delivery; or, with no `sub_id`, every news subscription's and the
    chat's default for new ones. Returns how many subscriptions changed."""
    values = {"mode": delivery.mode, "hour": delivery.hour, "weekday": delivery.weekday}
    if sub_id is not None:
        await find(app, chat_id, sub_id=sub_id)
        where = Subscription.id == sub_id
    else:
        where = (Subscription.chat_id == chat_id) & (Subscription.kind == SubscriptionKind.NEWS)
    async with app.sessions() as session, session.begin():
        result = await session.execute(update(Subscription).where(where).values(**values))
    if sub_id is None:
        await set_default_delivery(app, chat_id, delivery)
    return rowcount(result)


async def set_default_delivery(app: App, chat_id: int, delivery: Cadence) -> None:
    """How the chat's new subscriptions are delivered."""
    async with app.sessions() as session, session.begin():
        await session.execute(update(Chat).where(Chat.id == chat_id).values(
            default_mode=delivery.mode, default_hour=delivery.hour,
            default_weekday=delivery.weekday))
