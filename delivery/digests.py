"""Digest scheduling: which digests are due, derived from the subscriptions, never remembered.

Every minute (and at start-up) the scheduler looks at the distinct schedules of the live digest
subscriptions (daily at an hour, weekly on a weekday at an hour, in settings.timezone), takes the
latest moment each one fell due, and inserts one outbox row per chat for it. The row's
`dedup_key` names the chat and the period, so inserting it again is a no-op: a digest that fell
due while the bot was down is created once at start-up, and a restart never creates a second one.
Only the latest missed period is created; its window reaches back to the chat's previous digest
(see delivery.contents), so the items of the missed periods are in it.

Rows are inserted for every chat on the schedule, set-wise; the items are resolved when the
sender claims the row, and a digest that turns out empty is deleted instead of being sent, so a
chat with nothing to receive keeps no row (delivery.outbox.saving_prepared).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import JSON, String, cast, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.pacing import BULK
from model.enums import DeliveryKind, SubscriptionKind, SubscriptionMode
from model.outbox import OutboxPayload
from runtime import App
from storage.dialect import insert_pending, lock_for_write
from storage.models import Chat, Subscription

log = logging.getLogger(__name__)

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
# A chat's held digest: its instant subscriptions' lower-confidence matches (delivery.match),
# sent once a day at the chat's digest hour (the /digest hour, Chat.default_hour), and only on
# days that have some. Its rows are queued when such a match is made, not by the scheduler.
HELD = "held"
HELD_OVERLAP = timedelta(minutes=10)


@dataclass(frozen=True)
class Schedule:
    kind: str  # "news" (a digest) or "report" (an official's report)
    mode: str  # daily | weekly
    hour: int
    weekday: int  # 0 = Monday; always 0 for daily

    @property
    def delivery_kind(self) -> DeliveryKind:
        return DeliveryKind.REPORT if self.kind == SubscriptionKind.REPORT else DeliveryKind.DIGEST

    def key_prefix(self, chat_id: int | str) -> str:
        """Every period of this schedule for one chat shares this prefix (see `previous_due`)."""
        return f"{self.delivery_kind}:{self.mode}:{chat_id}:"

    def payload(self) -> OutboxPayload:
        return OutboxPayload(mode=self.mode, hour=self.hour, weekday=self.weekday)


def last_due(schedule: Schedule, now: datetime, tz: tzinfo) -> datetime:
    """The latest moment at or before `now` when this schedule fell due (aware, UTC-comparable).

    Local wall-clock time: Asia/Ho_Chi_Minh has no DST, but a zone with DST still gets the
    hour it asked for."""
    local = now.astimezone(tz)
    # Arithmetic on zone-aware datetimes is wall-clock arithmetic, as wanted here.
    due = local.replace(hour=schedule.hour, minute=0, second=0, microsecond=0)
    if schedule.mode == SubscriptionMode.WEEKLY:
        due -= timedelta(days=(due.weekday() - schedule.weekday) % 7)
    while due > local:
        due -= PERIODS[schedule.mode]
    return due


def held_dues(hour: int, now: datetime, tz: tzinfo) -> list[datetime]:
    """When a held digest queued now is due: the chat's next digest hour, strictly after `now`,
    so a digest already due (perhaps sent) is never queued again. Within HELD_OVERLAP of that
    hour, the one after it too: the match may commit only after the first was resolved, and the
    second one's window reaches back over it (delivery.contents); if the first took the item,
    the second leaves it out, and an empty digest is never sent."""
    due = last_due(Schedule("news", "daily", hour, 0), now, tz) + PERIODS["daily"]
    return [due, due + PERIODS["daily"]] if due - now < HELD_OVERLAP else [due]


def held_row(chat_id: int, hour: int, due: datetime, tz: tzinfo) -> dict[str, Any]:
    """The outbox row of one chat's held digest due at `due` (see `HELD`)."""
    period = due.astimezone(tz).strftime("%Y-%m-%d")
    return {"chat_id": chat_id, "kind": DeliveryKind.DIGEST, "lane": BULK,
            "dedup_key": f"digest:{HELD}:{chat_id}:{hour}:0:{period}",
            "payload": OutboxPayload(mode=HELD, hour=hour, weekday=0).to_json(), "due_at": due}


async def live_schedules(session: AsyncSession) -> list[Schedule]:
    rows = await session.execute(
        select(Subscription.kind, Subscription.mode, Subscription.hour, Subscription.weekday)
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Subscription.mode.in_(tuple(PERIODS)), Subscription.paused.is_(False),
               Subscription.kind.in_(("news", "report")), Chat.active.is_(True))
        .distinct()
    )
    found = {
        Schedule(kind, mode, hour, weekday if mode == SubscriptionMode.WEEKLY else 0)
        for kind, mode, hour, weekday in rows
    }
    return sorted(found, key=lambda s: (s.kind, s.mode, s.hour, s.weekday))


async def create_digests(session: AsyncSession, schedule: Schedule, due: datetime,
                         now: datetime, tz: tzinfo) -> int:
    """Insert this period's row for every chat on the schedule; returns how many were new."""
    period = due.astimezone(tz).strftime("%Y-%m-%d")
    conditions = [
        Subscription.kind == schedule.kind, Subscription.mode == schedule.mode,
        Subscription.hour == schedule.hour, Subscription.paused.is_(False),
        Subscription.created_at <= due, Chat.active.is_(True),
    ]
    if schedule.mode == SubscriptionMode.WEEKLY:
        conditions.append(Subscription.weekday == schedule.weekday)
    chats = (
        select(Subscription.chat_id.label("chat_id"))
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(*conditions)
        .distinct()
        .subquery("chats")
    )
    key = (literal(f"{schedule.delivery_kind}:{schedule.mode}:") + cast(chats.c.chat_id, String)
           + literal(f":{schedule.hour}:{schedule.weekday}:{period}"))
    return await insert_pending(session, chat_id=chats.c.chat_id, kind=schedule.delivery_kind,
                                lane=BULK, dedup_key=key, due_at=due, now=now,
                                payload=literal(schedule.payload().to_json(), JSON()))


class DigestScheduler:
    """Creates due digest rows; remembers which (schedule, due) it has done only to skip work."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.done: set[tuple[Schedule, datetime]] = set()

    async def tick(self) -> int:
        """Create every digest row that is due now and not yet created; returns how many."""
        app = self.app
        now, tz = app.clock(), app.settings.tz
        created, done = 0, set()
        async with app.sessions() as session, session.begin():
            await lock_for_write(session)
            for schedule in await live_schedules(session):
                due = last_due(schedule, now, tz)
                if (schedule, due) in self.done:
                    continue
                count = await create_digests(session, schedule, due, now, tz)
                if count:
                    log.info("%s %s %02d:00 (weekday %d) due %s: %d chats", schedule.kind,
                             schedule.mode, schedule.hour, schedule.weekday, due.isoformat(),
                             count)
                created += count
                done.add((schedule, due))
        # Only recent periods can come up again; older ones are forgotten.
        self.done = {k for k in self.done | done if k[1] > now - 2 * PERIODS["weekly"]}
        return created
