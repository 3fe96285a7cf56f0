"""Retention: the daily job that keeps the database bounded.

It deletes, in batches of `settings.retention_batch_size` rows, each batch its own short
transaction (so a large backlog never holds the write lock for long):
- finished outbox rows (sent, cancelled, failed) due before the cutoff;
- sent instant alerts due more than SENT_ALERTS_KEPT ago, sooner: nothing reads them once sent
  (what they gave is in `delivered_items`, which keeps it from any row queued again; digest
  windows read digest rows only), and they are half the outbox;
- sent digests of the modes whose windows reach back less far than LOOKBACK (daily and held:
  MAX_CATCHUP, 7 days), sooner too: once due before `resend_horizon` for their own reach
  (14 days ago with no older open row), since only the next digest of the same chat and mode
  reads a sent digest (its due time, where that window starts), and never further back than its
  MAX_CATCHUP. They are most of the outbox (a daily digest a day per subscriber), and what they
  gave stays in `delivered_items` until the full cutoff;
- `delivered_items` rows given before the cutoff;
- on PostgreSQL, whole partitions of `delivered_items` (storage/partitions.py): at a new month
  the open partition is closed and the month's opened, and a closed one goes whole once every
  item in its id range was fetched (and matched) before the cutoff: by the argument below none
  of them can be offered again, so what they were given is no longer needed. The batched delete
  still runs for the rest (the open and the younger closed partitions);
- with `settings.item_archive_days` set, items fetched before that many days (their labels and
  what was given of them go with them, by the foreign keys' ON DELETE CASCADE).

The cutoff is `settings.retention_days` ago, moved further back when digests or the
once-per-chat rule still need a row (`resend_horizon`):
- a digest's window starts at the chat's previous digest and reaches back at most
  delivery.contents.LOOKBACK (28 days for a weekly one) from its due time; digest rows created
  from now on are due at most a week ago (the weekly digest missed while the bot was down, see
  delivery.digests.last_due), and rows still open are due when they are due. Every window that
  will ever be read starts after `min(now - a week, oldest open row's due) - LOOKBACK`;
- an item reaches a chat again only through such a window, or the instant row made when it is
  first matched. Every item a finished row gave was fetched (and matched) before the row was
  due, and recorded in `delivered_items` when it was sent (after it was due), so once that
  record is older than the horizon none of its items can be offered again, and it is no
  longer needed to keep them from coming twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.contents import LOOKBACK, MAX_CATCHUP
from delivery.digests import PERIODS
from delivery.pacing import BULK, INTERACTIVE
from model.enums import DeliveryKind, OutboxState
from runtime import App
from storage import partitions
from storage.dialect import lock_for_write, rowcount
from storage.models import DeliveredItem, Delivery, Item

log = logging.getLogger(__name__)

FINISHED = (OutboxState.SENT, OutboxState.CANCELLED, OutboxState.FAILED)
OPEN = (OutboxState.PENDING, OutboxState.SENDING)
# How long a sent instant alert stays: long enough to look at the last day's alerts.
SENT_ALERTS_KEPT = timedelta(days=1)
# Digest modes whose sent rows go by their own, shorter reach (see the module docstring).
SHORT_REACH = tuple(mode for mode, reach in MAX_CATCHUP.items() if reach < LOOKBACK)


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime
    deliveries: int
    delivered_items: int
    items: int
    # PostgreSQL: the partitions of `delivered_items` dropped whole, and the one opened.
    partitions_dropped: tuple[str, ...] = ()
    partition_opened: str | None = None


def resend_horizon(now: datetime, oldest_open_due: datetime | None,
                   reach: timedelta = LOOKBACK) -> datetime:
    """Every digest window read from `now` on starts after this (see the module docstring);
    with `reach`, every window of a mode that reaches back that far at most."""
    earliest_due = now - PERIODS["weekly"]
    if oldest_open_due is not None:
        earliest_due = min(earliest_due, oldest_open_due)
    return earliest_due - reach


async def _oldest_open(app: App) -> datetime | None:
    async with app.sessions() as session:
        found: datetime | None = await session.scalar(
            select(func.min(Delivery.due_at)).where(Delivery.state.in_(OPEN)))
    return found


async def cutoff(app: App) -> datetime:
    """Finished rows due before this, and what they gave, may go."""
    return _cutoff(app, await _oldest_open(app))


def _cutoff(app: App, oldest_open: datetime | None) -> datetime:
    now = app.clock()
    return min(now - timedelta(days=app.settings.retention_days),
               resend_horizon(now, oldest_open))


async def run_retention(app: App) -> RetentionReport:
    """One pass of the daily job; returns what it deleted."""
    oldest_open = await _oldest_open(app)
    before = _cutoff(app, oldest_open)
    deliveries = await _in_batches(app, Delivery.__table__, [
        Delivery.state.in_(FINISHED), Delivery.due_at < before], keys=(Delivery.id,))
    # Instant rows are the interactive lane's: the lane lets ix_deliveries_due find them.
    deliveries += await _in_batches(app, Delivery.__table__, [
        Delivery.state == OutboxState.SENT, Delivery.lane == INTERACTIVE,
        Delivery.kind == DeliveryKind.INSTANT, Delivery.due_at < app.clock() - SENT_ALERTS_KEPT],
        keys=(Delivery.id,))
    # Digests are the bulk lane's; a sent one of a short-reach mode goes by that reach.
    for mode in SHORT_REACH:
        deliveries += await _in_batches(app, Delivery.__table__, [
            Delivery.state == OutboxState.SENT, Delivery.lane == BULK,
            Delivery.due_at < resend_horizon(app.clock(), oldest_open, MAX_CATCHUP[mode]),
            Delivery.kind == DeliveryKind.DIGEST,
            Delivery.dedup_key.startswith(f"digest:{mode}:", autoescape=True)],
            keys=(Delivery.id,))
    opened, dropped = await _partitions(app, before)
    given = await _in_batches(app, DeliveredItem.__table__, [DeliveredItem.created_at < before],
                              keys=(DeliveredItem.chat_id, DeliveredItem.item_id))
    items = 0
    if app.settings.item_archive_days:
        archive_before = min(before,
                             app.clock() - timedelta(days=app.settings.item_archive_days))
        items = await _in_batches(app, Item.__table__, [Item.fetched_at < archive_before],
                                  keys=(Item.id,))
    report = RetentionReport(before, deliveries, given, items, dropped, opened)
    log.info("retention (before %s): %d deliveries, %d delivered items, %d items deleted",
             before.isoformat(), deliveries, given, items)
    return report


async def _partitions(app: App, before: datetime) -> tuple[str | None, tuple[str, ...]]:
    """PostgreSQL: the month's partition of `delivered_items` opened if it is not yet, and the
    closed ones whose items all came before `before` dropped (storage/partitions.py); each its
    own transaction; nothing on SQLite, where `partitions.partitions` finds none. Returns
    (opened, dropped)."""
    opened: str | None = None
    dropped: tuple[str, ...] = ()
    # Either may give up waiting for its locks (lock_timeout): the batched deletes still run,
    # and tomorrow's run tries again.
    try:
        async with app.sessions() as session, session.begin():
            opened = await partitions.split_month(
                session, app.clock().astimezone(app.settings.tz))
    except DBAPIError:
        log.warning("retention: the month's partition could not be opened; tomorrow again",
                    exc_info=True)
    if opened:
        log.info("retention: partition %s opened for the new month's items", opened)
    try:
        async with app.sessions() as session, session.begin():
            dropped = tuple(await partitions.drop_past(session, before))
    except DBAPIError:
        log.warning("retention: past partitions could not be dropped; tomorrow again",
                    exc_info=True)
    if dropped:
        log.info("retention: partitions %s dropped whole (items fetched before %s)",
                 ", ".join(dropped), before.isoformat())
    return opened, dropped


async def _in_batches(app: App, table: Any, where: list[Any], keys: tuple[Any, ...]) -> int:
    """DELETE … WHERE (keys) IN (SELECT keys … WHERE `where` LIMIT batch), until none is left;
    returns how many rows went."""
    limit, total = app.settings.retention_batch_size, 0
    while True:
        async with app.sessions() as session, session.begin():
            await lock_for_write(session)
            count = await _delete_some(session, table, where, keys, limit)
        total += count
        await asyncio.sleep(0)  # let the sender's writes in between batches
        if count < limit:
            return total


async def _delete_some(session: AsyncSession, table: Any, where: list[Any],
                       keys: tuple[Any, ...], limit: int) -> int:
    # One statement, the batch a subquery: PostgreSQL joins it on the key's index, where a
    # list of 5,000 key pairs became a filter on every row.
    batch = select(*keys).where(*where).limit(limit)
    condition = keys[0].in_(batch) if len(keys) == 1 else tuple_(*keys).in_(batch)
    result = await session.execute(delete(table).where(condition),
                                   execution_options={"preserve_rowcount": True})
    return rowcount(result)
