"""Builders for delivery tests: sources, labelled items, chats and subscriptions in a few lines."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from model.channel import Capabilities, Markup, Outcome, OutMessage, Status
from storage.models import (
    Chat,
    Item,
    ItemProvince,
    ItemTopic,
    Source,
    Subscription,
    SubscriptionProvince,
    SubscriptionTopic,
)
from vntext import fold

_serial = itertools.count(1)
T0 = datetime(2026, 9, 14, 0, 0, tzinfo=UTC)  # a Monday, 07:00 in Hà Nội


async def add_source(session: AsyncSession, name: str = "Báo Ví Dụ") -> int:
    source = Source(url=f"https://nguon{next(_serial)}.example.vn/rss", name=name)
    session.add(source)
    await session.flush()
    return source.id


async def add_item(
    session: AsyncSession, source_id: int, title: str, summary: str = "", *,
    provinces: Iterable[str] = (), topics: Iterable[str] = (), published_at: datetime = T0,
    backlog: bool = False, duplicate_of: int | None = None, fetched_at: datetime | None = None,
    scores: dict[str, float] | None = None,
) -> int:
    """An item with its labels; `scores`: the labels' confidence (1.0 when not given)."""
    scores = scores or {}
    n = next(_serial)
    item = Item(
        source_id=source_id, canonical_url=f"https://example.vn/tin/{n}?a=1&b=2", guid=str(n),
        title=title, summary=summary, published_at=published_at, content_hash=f"h{n}",
        fetched_at=fetched_at or published_at,
        title_fold=fold(title), search_text=fold(f"{title} {summary}"), backlog=backlog,
        duplicate_of=duplicate_of,
    )
    session.add(item)
    await session.flush()
    for rank, code in enumerate(provinces):
        session.add(ItemProvince(item_id=item.id, province=code, rank=rank, evidence=[],
                                 score=scores.get(code, 1.0)))
    for slug in topics:
        session.add(ItemTopic(item_id=item.id, topic=slug, evidence=[],
                              score=scores.get(slug, 1.0)))
    await session.flush()
    return item.id


async def add_chat(
    session: AsyncSession, key: str | int, *, channel: str = "telegram", kind: str = "private",
    active: bool = True, lang: str = "vi",
) -> int:
    chat = Chat(channel=channel, chat_key=str(key), kind=kind, active=active, lang=lang)
    session.add(chat)
    await session.flush()
    return chat.id


async def add_sub(
    session: AsyncSession, chat_id: int, *, topics: Iterable[str] = (),
    provinces: Iterable[str] = (), keywords: str = "", mode: str = "instant", hour: int = 7,
    weekday: int = 0, paused: bool = False, kind: str = "news", created_at: datetime = T0,
) -> int:
    sub = Subscription(chat_id=chat_id, keywords=keywords, mode=mode, hour=hour,
                       weekday=weekday, paused=paused, kind=kind, created_at=created_at)
    session.add(sub)
    await session.flush()
    for slug in topics:
        session.add(SubscriptionTopic(subscription_id=sub.id, topic=slug))
    for code in provinces:
        session.add(SubscriptionProvince(subscription_id=sub.id, province=code))
    await session.flush()
    return sub.id


class MemoryChannel:
    """An in-memory Channel: records what it is given, or answers scripted outcomes first.

    `script[chat_key]` is a list of Outcomes returned, in order, before sends to that chat
    succeed again."""

    def __init__(self, name: str = "memory", max_units: int = 4096,
                 per_second: float = 1000.0) -> None:
        self.name = name
        self.capabilities = Capabilities(
            max_text_units=max_units, max_caption_units=1024, markup=Markup.HTML, buttons=True,
            edits=True, global_per_second=per_second, private_per_second=1000.0,
            group_per_minute=1000.0,
        )
        self.sent: list[tuple[str, OutMessage]] = []
        self.calls: list[tuple[str, Status]] = []
        self.script: dict[str, list[Outcome]] = {}

    async def send(
        self, chat_key: str, message: OutMessage, *, chat_kind: str = "private"
    ) -> Outcome:
        queue = self.script.get(chat_key)
        if queue:
            outcome = queue.pop(0)
            self.calls.append((chat_key, outcome.status))
            return outcome
        self.sent.append((chat_key, message))
        self.calls.append((chat_key, Status.OK))
        return Outcome(Status.OK, message_id=str(len(self.sent)))

    async def answer_button(self, callback_id: str, text: str = "") -> Outcome:
        return Outcome(Status.OK)

    def texts_for(self, chat_key: str | int) -> list[str]:
        return [m.text for key, m in self.sent if key == str(chat_key)]


def delivery_settings(db_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    """Settings for delivery tests: quick polling and retries."""
    from tests.conftest import make_settings

    values: dict[str, object] = {"delivery_poll_seconds": 0.05,
                                 "delivery_retry_base_seconds": 0.05}
    values.update(overrides)
    return make_settings(db_url, **values)


def memory_app(db_url: str, at: datetime, **overrides: object):  # type: ignore[no-untyped-def]
    """An App on the delivery settings with one MemoryChannel ("memory") and a FakeClock at `at`."""
    from runtime import open_app
    from tests.fakes.clock import FakeClock

    app = open_app(delivery_settings(db_url, **overrides))
    app.channels = {"memory": MemoryChannel()}
    app.clock = FakeClock(at)
    return app


async def run_until_idle(app):  # type: ignore[no-untyped-def]
    """Start delivery on the app's channels, wait until nothing due is left, stop it."""
    from delivery.service import start_delivery
    from tests.waiting import wait_for

    service = await start_delivery(app)
    try:
        await wait_for(service.idle)
    finally:
        await service.stop()
    return service


async def given(app) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(chat id, item id) for everything delivered."""
    from sqlalchemy import select

    from storage.models import DeliveredItem

    async with app.sessions() as session:
        rows = await session.execute(select(DeliveredItem.chat_id, DeliveredItem.item_id))
        return {(c, i) for c, i in rows}
