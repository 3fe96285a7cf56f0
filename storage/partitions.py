"""PostgreSQL: `delivered_items` partitioned by month on item id ranges (migration 0010).

The partition key is `item_id`, not the date: the primary key (chat_id, item_id) contains it, so
"this chat has this item" stays unique across the whole table and the idempotent insert behind
each-item-once (`ON CONFLICT DO NOTHING`) holds across months. Item ids grow with time (a
sequence), so a range of ids is a stretch of time: a month's partition holds what was given of
the items stored that month, bounded by the next item id at the month's turn.

Layout: closed partitions FROM (lower) TO (upper), and one open partition FROM (lower) TO
(MAXVALUE) that takes the rows of every new item. Each is named by the month it was opened in
(`delivered_items_2026_12`; the rows that were there before migration 0010 are
`delivered_items_initial`).

- `split_month`, once a month (the daily retention job calls it): the open partition is closed
  at b = max(items.id) + 1 and a new open one starts there. One transaction: the tables the
  partition's foreign keys reference and `delivered_items` locked (ACCESS EXCLUSIVE, in that
  order, so it takes no lock in the middle that another transaction could hold while waiting
  for it), CHECK (item_id < b) on the open partition (one scan of it; with the tables locked no
  row can pass b), DETACH, ATTACH … TO (b) (the CHECK spares it a second scan), CHECK dropped,
  the new open partition created. No row moves. A second instance doing the same waits for the
  locks, then finds the month's partition there and does nothing.
- `drop_past`: a closed partition whose items were all fetched and matched before the
  retention cutoff is dropped whole (nothing can offer those items again, see
  delivery.retention); one with an item still unmatched stays (the start-up catch-up may
  queue it).

Nothing here runs on SQLite, where `delivered_items` is one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import dialect

TABLE = "delivered_items"
INITIAL = f"{TABLE}_initial"
# The tables `delivered_items`' foreign keys reference: ATTACH and DETACH take locks on them.
REFERENCED = ("chats", "items", "subscriptions")
# How long the split waits for its locks (it runs again the next day).
LOCK_TIMEOUT = "10s"

_PARTITION = re.compile(rf"{TABLE}_(initial|\d{{4}}_\d{{2}})")
_BOUND = re.compile(r"FOR VALUES FROM \((.+)\) TO \((.+)\)")


def is_partition(name: str | None) -> bool:
    """A partition of `delivered_items` (the migrations' and retention's, not the models')."""
    return name is not None and _PARTITION.fullmatch(name) is not None


def month_name(moment: datetime) -> str:
    """The partition opened in `moment`'s month, in its own time zone (the retention job's is
    the configured one: the month turns at local midnight)."""
    return f"{TABLE}_{moment:%Y_%m}"


@dataclass(frozen=True)
class Partition:
    name: str
    lower: int | None  # None: MINVALUE
    upper: int | None  # None: MAXVALUE (the open partition)

    @property
    def range_sql(self) -> str:
        low = "MINVALUE" if self.lower is None else str(self.lower)
        high = "MAXVALUE" if self.upper is None else str(self.upper)
        return f"FROM ({low}) TO ({high})"


def _value(bound: str) -> int | None:
    bound = bound.strip().strip("'")
    return None if bound in ("MINVALUE", "MAXVALUE") else int(bound)


async def partitions(session: AsyncSession) -> list[Partition]:
    """`delivered_items`' partitions, lowest range first; [] when it is not partitioned (and
    on SQLite)."""
    if dialect(session) != "postgresql":
        return []
    rows = await session.execute(text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:table)"),
        {"table": TABLE})
    found = []
    for name, bound in rows:
        match = _BOUND.fullmatch(bound)
        if match is None:
            raise ValueError(f"{name}: unexpected partition bound {bound}")
        found.append(Partition(name, _value(match[1]), _value(match[2])))
    return sorted(found, key=lambda p: (p.lower is not None, p.lower or 0))


def _open(found: list[Partition]) -> Partition:
    return next(p for p in found if p.upper is None)


async def split_month(session: AsyncSession, now: datetime) -> str | None:
    """Close the open partition and open `now`'s month's, unless that one is open already (or
    exists: a clock that went back). Returns the partition opened (or renamed), None when there
    was nothing to do. Runs in the caller's transaction, which it locks; the caller commits."""
    found = await partitions(session)
    if not found or _open(found).name == month_name(now):
        return None  # not partitioned, or this month's is open: no lock taken
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    await session.execute(text(
        f"LOCK TABLE {', '.join(REFERENCED)}, {TABLE} IN ACCESS EXCLUSIVE MODE"))
    found = await partitions(session)  # again, under the lock: another instance may have split
    current, name = _open(found), month_name(now)
    if current.name == name or any(p.name == name for p in found):
        return None
    bound = int(await session.scalar(text("SELECT COALESCE(MAX(id), 0) + 1 FROM items")) or 1)
    if current.lower is not None and bound <= current.lower:
        # No item stored since the last split: the open partition is empty; it takes the
        # month's name.
        await session.execute(text(f"ALTER TABLE {current.name} RENAME TO {name}"))
        return name
    check = f"{current.name}_bound"
    closed = Partition(current.name, current.lower, bound)
    await session.execute(text(
        f"ALTER TABLE {current.name} ADD CONSTRAINT {check} CHECK (item_id < {bound})"))
    await session.execute(text(f"ALTER TABLE {TABLE} DETACH PARTITION {current.name}"))
    await session.execute(text(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {current.name} FOR VALUES {closed.range_sql}"))
    await session.execute(text(f"ALTER TABLE {current.name} DROP CONSTRAINT {check}"))
    await session.execute(text(
        f"CREATE TABLE {name} PARTITION OF {TABLE} FOR VALUES FROM ({bound}) TO (MAXVALUE)"))
    return name


# A closed partition may go when none of its items can reach a chat again: none fetched or
# matched since the cutoff, none waiting to be matched (a backlog item or a copy never is).
_STILL_NEEDED = """
    SELECT EXISTS (SELECT 1 FROM items WHERE id >= :lower AND id < :upper AND (
        fetched_at >= :before OR matched_at >= :before
        OR (matched_at IS NULL AND NOT backlog AND duplicate_of IS NULL)))"""


async def droppable(session: AsyncSession, before: datetime) -> list[Partition]:
    """The closed partitions whose items can no longer be offered (see `drop_past`)."""
    found = []
    for part in await partitions(session):
        if part.upper is None:
            continue  # the open partition stays
        lower = part.lower if part.lower is not None else -(2**63)
        if not await session.scalar(text(_STILL_NEEDED),
                                    {"lower": lower, "upper": part.upper, "before": before}):
            found.append(part)
    return found


async def drop_past(session: AsyncSession, before: datetime) -> list[str]:
    """Drop the closed partitions none of whose items was fetched or matched since `before`
    (or is still to be matched); returns their names. Runs in the caller's transaction."""
    if not await droppable(session, before):
        return []
    await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    # `items` before `delivered_items`, as `split_month` takes them: it reads items under the
    # lock, and a split waiting for `delivered_items` while holding `items` would deadlock.
    await session.execute(text("LOCK TABLE items IN ACCESS SHARE MODE"))
    await session.execute(text(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE"))
    gone = [part.name for part in await droppable(session, before)]  # again, under the lock
    for name in gone:
        await session.execute(text(f"DROP TABLE {name}"))
    return gone
