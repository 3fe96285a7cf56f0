"""What the health and metrics server reads from the database: whether it answers, and the
gauges read at scrape time. A handful of grouped counts, so a scrape costs a few indexed
queries whatever the size of the database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import distinct, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from model.enums import SubscriptionMode
from runtime import App
from storage.models import Chat, Delivery, Source, Subscription

DATABASE_TIMEOUT_SECONDS = 3.0


async def database_problem(app: App) -> str | None:
    """Why the database does not answer, or None when `SELECT 1` does within the timeout."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), app.sessions() as session:
            await session.execute(text("SELECT 1"))
    except TimeoutError:
        return f"the database did not answer within {DATABASE_TIMEOUT_SECONDS:.0f} s"
    except (SQLAlchemyError, OSError) as exc:
        return f"the database does not answer ({type(exc).__name__})"
    return None


@dataclass
class Gauges:
    outbox_by_state: dict[str, int] = field(default_factory=dict)
    # (channel, "true"/"false") -> chats
    chats: dict[tuple[str, str], int] = field(default_factory=dict)
    # channel -> active chats with at least one subscription that is on and not paused
    subscribers: dict[str, int] = field(default_factory=dict)
    subscriptions_by_mode: dict[str, int] = field(default_factory=dict)
    sources_by_state: dict[str, int] = field(default_factory=dict)
    sources_failing: int = 0


async def gauges(app: App) -> Gauges:
    async with app.sessions() as s:
        found = Gauges()
        found.outbox_by_state = {str(state): int(n) for state, n in await s.execute(
            select(Delivery.state, func.count()).group_by(Delivery.state))}
        found.chats = {(str(channel), "true" if active else "false"): int(n)
                       for channel, active, n in await s.execute(
                           select(Chat.channel, Chat.active, func.count())
                           .group_by(Chat.channel, Chat.active))}
        found.subscribers = {str(channel): int(n) for channel, n in await s.execute(
            select(Chat.channel, func.count(distinct(Chat.id)))
            .join(Subscription, Subscription.chat_id == Chat.id)
            .where(Chat.active.is_(True), Subscription.paused.is_(False),
                   Subscription.mode != SubscriptionMode.OFF)
            .group_by(Chat.channel))}
        found.subscriptions_by_mode = {str(mode): int(n) for mode, n in await s.execute(
            select(Subscription.mode, func.count()).group_by(Subscription.mode))}
        found.sources_by_state = {str(state): int(n) for state, n in await s.execute(
            select(Source.state, func.count()).group_by(Source.state))}
        found.sources_failing = int(await s.scalar(
            select(func.count()).select_from(Source).where(Source.error_count > 0)) or 0)
        return found
