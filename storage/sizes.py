"""How big each of Loa's tables is, rows and bytes with its indexes, on either engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.dialect import dialect
from storage.models import Base

# Above this many rows PostgreSQL's estimate (pg_class.reltuples, kept by ANALYZE) stands in for
# an exact count, which would read the whole table.
EXACT_UP_TO = 100_000


@dataclass(frozen=True)
class TableSize:
    name: str
    rows: int
    bytes: int
    estimated: bool = False  # rows is PostgreSQL's estimate

    @property
    def mb(self) -> float:
        return self.bytes / 1_048_576


async def table_sizes(session: AsyncSession) -> list[TableSize]:
    """Every model table, largest first. Bytes: pg_total_relation_size on PostgreSQL (table,
    indexes, TOAST); on SQLite the pages of the table and its indexes (the dbstat table; 0
    where SQLite was built without it)."""
    names = sorted(Base.metadata.tables)
    if dialect(session) == "postgresql":
        found = await _postgresql(session, names)
    else:
        found = await _sqlite(session, names)
    return sorted(found, key=lambda s: (-s.bytes, s.name))


async def _count(session: AsyncSession, name: str) -> int:
    return int(await session.scalar(select(func.count()).select_from(table(name))) or 0)


async def _postgresql(session: AsyncSession, names: list[str]) -> list[TableSize]:
    # A partitioned table (`delivered_items`, storage/partitions.py) has no rows or pages of
    # its own: its partitions' are summed (a partition never analysed counts no rows).
    rows = await session.execute(text(
        "SELECT c.relname, CASE WHEN c.relkind = 'r' THEN c.reltuples ELSE"
        " (SELECT COALESCE(SUM(GREATEST(p.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) t"
        " JOIN pg_class p ON p.oid = t.relid WHERE t.isleaf) END,"
        " CASE WHEN c.relkind = 'r' THEN pg_total_relation_size(c.oid) ELSE (SELECT"
        " COALESCE(SUM(pg_total_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t) END"
        " FROM pg_class c "
        "WHERE c.relkind IN ('r', 'p') AND c.relnamespace = to_regnamespace(current_schema()) "
        "AND c.relname = ANY(:names)"), {"names": names})
    found = []
    for name, estimate, size in rows:
        if estimate < EXACT_UP_TO:  # -1: never analysed
            found.append(TableSize(name, await _count(session, name), int(size)))
        else:
            found.append(TableSize(name, int(estimate), int(size), estimated=True))
    return found


async def _sqlite(session: AsyncSession, names: list[str]) -> list[TableSize]:
    try:
        pages = {str(name): int(size) for name, size in await session.execute(text(
            "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d "
            "JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name"))}
    except OperationalError:  # an SQLite built without dbstat: rows only
        pages = {}
    return [TableSize(name, await _count(session, name), int(pages.get(name) or 0))
            for name in names]
