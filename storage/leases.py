"""Leases and claims: how several `bot.py run` on one database share the work.

- A **lease** (`leases` table) is a named duty one instance holds until `expires_at` and renews
  while it works: "channel:telegram" is the chat channel's leader, the one instance that long-polls
  updates and sends on that channel. A lease row rather than a PostgreSQL advisory lock: it works
  the same on SQLite (tests, the single-process default), it needs no connection held open for
  the lease's life (an advisory lock dies with its connection, and a pool recycles connections),
  its expiry is an explicit time that tests can shorten, and whoever holds it can be read back.
  Times come from the instances' clocks, which must agree (NTP) to well within a lease.
- A **seen update** (`seen_updates`) is a chat update taken by one instance, keyed by the
  platform's id: taken once, done once handled; one taken but never done by an instance that
  died is taken again after a while (at least once, not at most once). Pruned after a day.
- A **source claim** (`sources.claimed_by`, `claimed_until`): the due sources are claimed with
  `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite runs one writer at a time, so there the one
  statement is atomic) and a lease, so each is fetched by one instance per interval.
- **Unmatched items** are claimed by setting `matched_at` first, so matching (at ingestion, or
  the start-up catch-up) queues each item's messages once, whichever instance runs it.

Each write here runs in the caller's transaction; on SQLite the caller starts it with
`storage.dialect.lock_for_write`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import rowcount, upsert_insert
from storage.models import Item, Lease, SeenUpdate, Source


async def take_lease(session: AsyncSession, name: str, holder: str, now: datetime,
                     until: datetime) -> bool:
    """Take or renew lease `name` for `holder` until `until`; True when `holder` has it now.
    Free, expired or already `holder`'s: taken. Held by another, unexpired: not."""
    await session.execute(
        upsert_insert(session, Lease).values(name=name, holder=holder, expires_at=until)
        .on_conflict_do_nothing())
    # On PostgreSQL two takers of an expired lease queue on its row lock; the second sees the
    # first's new expiry when its WHERE is evaluated again, and takes nothing.
    result = await session.execute(
        update(Lease).where(Lease.name == name,
                            or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(holder=holder, expires_at=until))
    return rowcount(result) > 0


async def drop_lease(session: AsyncSession, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), if `holder` has it."""
    await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


async def lease_holder(session: AsyncSession, name: str, now: datetime) -> str | None:
    """Who holds lease `name` now (None: nobody, or it expired)."""
    held: str | None = await session.scalar(
        select(Lease.holder).where(Lease.name == name, Lease.expires_at > now))
    return held


async def take_update(session: AsyncSession, channel: str, key: str, now: datetime,
                      retake_before: datetime) -> bool:
    """Take chat update `key` of `channel` for handling; False when another instance has it
    (or had it, done). An update taken before `retake_before` and never done is taken again."""
    added = await session.execute(
        upsert_insert(session, SeenUpdate).values(channel=channel, update_key=key[:64],
                                                  taken_at=now, done=False)
        .on_conflict_do_nothing(), execution_options={"preserve_rowcount": True})
    if rowcount(added):
        return True
    retaken = await session.execute(
        update(SeenUpdate).where(SeenUpdate.channel == channel, SeenUpdate.update_key == key[:64],
                                 SeenUpdate.done.is_(False),
                                 SeenUpdate.taken_at < retake_before)
        .values(taken_at=now))
    return rowcount(retaken) > 0


async def finish_update(session: AsyncSession, channel: str, key: str) -> None:
    await session.execute(
        update(SeenUpdate).where(SeenUpdate.channel == channel, SeenUpdate.update_key == key[:64])
        .values(done=True))


async def prune_updates(session: AsyncSession, before: datetime) -> int:
    """Forget updates taken before `before` (platforms redeliver for hours, not days)."""
    result = await session.execute(delete(SeenUpdate).where(SeenUpdate.taken_at < before))
    return rowcount(result)


async def claim_due_sources(session: AsyncSession, owner: str, now: datetime,
                            until: datetime) -> Sequence[Source]:
    """Claim the active sources whose next check has come and that nobody else holds (or whose
    holder's claim ran out) for `owner` until `until`; returns them, most overdue first."""
    due = (
        select(Source.id)
        .where(Source.state == "active",
               or_(Source.next_check_at.is_(None), Source.next_check_at <= now),
               or_(Source.claimed_until.is_(None), Source.claimed_until <= now))
        .with_for_update(skip_locked=True)
    )
    ids = (await session.scalars(
        update(Source).where(Source.id.in_(due.scalar_subquery()))
        .values(claimed_by=owner, claimed_until=until)
        .returning(Source.id)
    )).all()
    if not ids:
        return []
    return (await session.scalars(
        select(Source).where(Source.id.in_(ids)).order_by(Source.next_check_at, Source.id)
    )).all()


async def release_sources(session: AsyncSession, ids: Sequence[int], owner: str) -> None:
    """The poll of these sources is recorded: their claims end."""
    if ids:
        await session.execute(
            update(Source).where(Source.id.in_(ids), Source.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None))


async def claim_unmatched(session: AsyncSession, ids: Sequence[int], now: datetime) -> list[int]:
    """Mark those of these items not yet matched as matched now; returns them, in order. The
    caller queues their messages in the same transaction: a concurrent claimer (another
    instance's catch-up) waits for it on PostgreSQL, then finds them matched."""
    if not ids:
        return []
    claimed = (await session.scalars(
        update(Item).where(Item.id.in_(ids), Item.matched_at.is_(None))
        .values(matched_at=now).returning(Item.id)
    )).all()
    return sorted(claimed)
