#!/usr/bin/env python3
"""Retention benchmark: the database's size after a simulated year at 100,000 subscribers.

Subscribers have the shapes of bench/delivery_data.py (30% instant, 60% daily, 10% weekly;
a province or two, topics, a few keywords). Every simulated day brings ITEMS_PER_DAY labelled
items, and every subscriber is given about 3 of them: an instant subscriber in two alerts (two
items, then one), a daily one in a digest of three, a weekly one in a digest of 21 on Mondays.
The outbox rows and `delivered_items` rows are written in bulk in SQL, in the shapes the sender
leaves them: queued as pending with their item ids and dedup keys, claimed, then sent (each
an update of an indexed column, as the sender's are). Then the real
retention job (delivery.retention.run_retention) runs on the simulated clock at 03:30 each day,
and after it, on PostgreSQL, the outbox tables are vacuumed when autovacuum would do it (more
dead rows than 50 + 20% of the table: the sender's updates and retention's deletes; the
simulated days pass far faster than autovacuum's own naptime).

Items and their labels are written for all 365 days. What the outbox holds after retention no
longer depends on the days before the retention window, so by default the outbox is written for
the last HISTORY_DAYS (the ~35-day window and a week more, so freed space is reused as it
would be); `--full` writes it for every day (many times longer).

Prints `retention: engine=… days=365 subscribers=… db_mb=…` and the tables' sizes.

Usage: python bench/retention.py [--engine postgresql|sqlite|both] [--scale 0.05] [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, text  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 1, 5, 0, 0, tzinfo=TZ)  # a Monday
DAYS = 365
SUBSCRIBERS = 100_000
ITEMS_PER_DAY = 1_000  # a few dozen provincial and national outlets
HISTORY_DAYS = 42
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WEEKLY_ITEMS = 21
STEP = 97  # item j of a chat's day: (chat × 31 + j × STEP) mod items per day, distinct per j


def _settings(url: str) -> Any:
    from config import load_settings

    return load_settings(database_url=url, _env_file=None, log_file="")


def _items_list(count: int, first: int = 0) -> str:
    """SQL text: a JSON list of `count` of the chat's items of the day."""
    parts = [f"CAST(:base + (s.chat_id * 31 + {(first + j) * STEP}) % :ipd AS TEXT)"
             for j in range(count)]
    return " || ', ' || ".join(parts)


def _json(dialect: str, expr: str) -> str:
    return f"CAST({expr} AS JSON)" if dialect == "postgresql" else expr


def _statements(dialect: str) -> list[tuple[str, str]]:
    """(kind of day, SQL) writing one day's outbox and what it gave."""
    columns = ("chat_id, kind, lane, dedup_key, payload, due_at, state, parts_sent, attempts, "
               "created_at")
    instant = _json(dialect, "'{\"items\": [' || CASE WHEN r.r = 0 THEN " + _items_list(2)
                    + " ELSE " + _items_list(1, 2) + " END || '], \"checked\": true}'")
    daily = _json(dialect, "'{\"mode\": \"daily\", \"hour\": 7, \"weekday\": 0, "
                  "\"items\": [' || " + _items_list(3) + " || '], \"checked\": true}'")
    weekly = _json(dialect, "'{\"mode\": \"weekly\", \"hour\": 7, \"weekday\": 0, "
                   "\"items\": [' || " + _items_list(WEEKLY_ITEMS)
                   + " || '], \"checked\": true}'")
    rows = [
        ("all", f"""INSERT INTO deliveries ({columns})
            SELECT s.chat_id, 'instant', 0, 'instant:' || CAST(s.chat_id AS TEXT) || ':'
                   || CAST(:token + s.chat_id * 2 + r.r AS TEXT),
                   {instant},
                   CASE WHEN r.r = 0 THEN :morning ELSE :evening END, 'pending', 0, 0,
                   CASE WHEN r.r = 0 THEN :morning ELSE :evening END
            FROM subscriptions s CROSS JOIN (SELECT 0 AS r UNION ALL SELECT 1) r
            WHERE s.mode = 'instant'"""),
        ("all", f"""INSERT INTO deliveries ({columns})
            SELECT s.chat_id, 'digest', 1, 'digest:daily:' || CAST(s.chat_id AS TEXT)
                   || ':7:0:' || :period,
                   {daily},
                   :digest, 'pending', 0, 0, :digest
            FROM subscriptions s WHERE s.mode = 'daily'"""),
        ("monday", f"""INSERT INTO deliveries ({columns})
            SELECT s.chat_id, 'digest', 1, 'digest:weekly:' || CAST(s.chat_id AS TEXT)
                   || ':7:0:' || :period,
                   {weekly},
                   :digest, 'pending', 0, 0, :digest
            FROM subscriptions s WHERE s.mode = 'weekly'"""),
    ]
    # Then each row's life in the sender: claimed, then sent (payload emptied). Each is an
    # update of an indexed column (state), so each leaves index entries behind until VACUUM.
    rows.append(("all", """UPDATE deliveries SET state = 'sending', claimed_at = due_at,
        claimed_by = 'bench' WHERE id > :before"""))
    rows.append(("all", f"""UPDATE deliveries SET state = 'sent', parts_sent = 1,
        sent_at = due_at, claimed_at = NULL, claimed_by = NULL, payload = {_json(dialect, "'{}'")}
        WHERE id > :before"""))
    # What each of the day's rows gave, found by id (the rows above, in one range).
    rows.append(("all", f"""WITH RECURSIVE js(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM js
            WHERE j < {WEEKLY_ITEMS - 1})
        INSERT INTO delivered_items (chat_id, item_id, created_at)
        SELECT d.chat_id, :base + (d.chat_id * 31 + j.j * {STEP}) % :ipd, d.sent_at
        FROM deliveries d JOIN js j ON
            (d.kind = 'instant' AND ((j.j < 2 AND d.due_at = :morning)
                                     OR (j.j = 2 AND d.due_at = :evening)))
            OR (d.dedup_key LIKE 'digest:daily:%' AND j.j < 3)
            OR d.dedup_key LIKE 'digest:weekly:%'
        WHERE d.id > :before"""))
    return rows


async def _day_outbox(app: Any, dialect: str, day: int, base: int, ipd: int) -> None:
    from storage.models import UTCDateTime

    local = START + timedelta(days=day)
    params = {"base": base, "ipd": ipd, "token": 10**15 + day * 10**7,
              "period": local.strftime("%Y-%m-%d"), "morning": local.replace(hour=9),
              "evening": local.replace(hour=15), "digest": local.replace(hour=7)}
    times = [bindparam(name, type_=UTCDateTime()) for name in ("morning", "evening", "digest")]
    async with app.sessions() as session:
        params["before"] = int(await session.scalar(text(
            "SELECT COALESCE(MAX(id), 0) FROM deliveries")) or 0)
    # Each step its own transaction, as in the sender: a version its successor replaced is
    # dead by then, so the indexes can drop it before splitting a page (bottom-up deletion).
    for when, sql in _statements(dialect):
        if when == "monday" and local.weekday() != 0:
            continue
        statement = text(sql).bindparams(*(t for t in times if f":{t.key}" in sql))
        async with app.sessions() as session, session.begin():
            await session.execute(statement, {k: v for k, v in params.items()
                                              if f":{k}" in sql})


async def _items(app: Any, day: int, count: int) -> tuple[int, int]:
    from bench.delivery_data import add_items

    ids = await add_items(app, count, fetched=START + timedelta(days=day, hours=23),
                          seed=1000 + day, matched=True)  # as ingestion matches them
    assert max(ids) - min(ids) + 1 == len(ids), "item ids are not contiguous"
    return min(ids), len(ids)


# Autovacuum's default trigger: more dead rows than 50 + 20% of the table (each partition of
# `delivered_items` on its own, as autovacuum sees them).
VACUUM_DEAD = """
    SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE (s.relname = 'deliveries' OR s.relname LIKE 'delivered\\_items\\_%')
      AND s.n_dead_tup > 50 + 0.2 * GREATEST(c.reltuples, 0)"""


async def _vacuum(url: str) -> None:
    """VACUUM (ANALYZE) the outbox tables that autovacuum would vacuum now."""
    import psycopg

    from storage.db import sync_url

    dsn = sync_url(url).replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        names = [row[0] for row in await (await conn.execute(VACUUM_DEAD)).fetchall()]
        if names:
            await conn.execute(f"VACUUM (ANALYZE) {', '.join(names)}")


async def simulate(url: str, dialect: str, subscribers: int, items_per_day: int,
                   history: int) -> dict[str, Any]:
    from bench.delivery_data import add_subscribers
    from delivery.retention import run_retention
    from runtime import open_app
    from storage.sizes import table_sizes

    app = open_app(_settings(url))
    now = [START]
    app.clock = lambda: now[0]
    began = time.monotonic()
    deleted = dropped = 0
    try:
        await add_subscribers(app, subscribers, created=START - timedelta(days=1))
        spent = dict.fromkeys(("items", "outbox", "retention", "vacuum"), 0.0)
        for day in range(DAYS):
            mark = time.monotonic()
            base, count = await _items(app, day, items_per_day)
            spent["items"] += time.monotonic() - mark
            mark = time.monotonic()
            if day >= DAYS - history:
                await _day_outbox(app, dialect, day, base, count)
            spent["outbox"] += time.monotonic() - mark
            mark = time.monotonic()
            now[0] = START + timedelta(days=day + 1, hours=3, minutes=30)
            report = await run_retention(app)
            deleted += report.deliveries
            dropped += len(report.partitions_dropped)
            spent["retention"] += time.monotonic() - mark
            mark = time.monotonic()
            if dialect == "postgresql" and day >= DAYS - history:
                await _vacuum(url)
            spent["vacuum"] += time.monotonic() - mark
            if day % 30 == 29 or day == DAYS - 1:
                print(f"  day {day + 1}: " + ", ".join(f"{k} {v:.0f} s" for k, v in spent.items()),
                      file=sys.stderr)
        async with app.sessions() as session:
            sizes = await table_sizes(session)
            relations: list[tuple[str, float]] = []
            if dialect == "postgresql":
                total = int(await session.scalar(text(
                    "SELECT pg_database_size(current_database())")) or 0)
                relations = [(str(name), size / 1_048_576) for name, size in await session.execute(
                    text(RELATIONS))]
        if dialect == "sqlite":
            async with app.sessions() as session:
                await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            total = await asyncio.to_thread(os.path.getsize, url.removeprefix("sqlite:///"))
        return {"db_mb": total / 1_048_576, "sizes": sizes, "relations": relations,
                "seconds": time.monotonic() - began,
                "deleted": deleted, "dropped": dropped}
    finally:
        await app.close()


# The outbox tables' and items' heaps (with TOAST) and indexes apart, largest first; a
# partitioned table's (`delivered_items` on PostgreSQL) summed over its partitions.
RELATIONS = """
    SELECT r.relname || ' (heap)', SUM(pg_table_size(t.oid)) FROM pg_class t
    JOIN pg_class r ON r.oid = COALESCE(pg_partition_root(t.oid), t.oid)
    WHERE r.relname IN ('deliveries', 'delivered_items', 'items') AND t.relkind = 'r'
    GROUP BY r.relname
    UNION ALL
    SELECT r.relname || '.' || ri.relname, SUM(pg_relation_size(i.oid)) FROM pg_index x
    JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class r ON r.oid = COALESCE(pg_partition_root(t.oid), t.oid)
    JOIN pg_class ri ON ri.oid = COALESCE(pg_partition_root(i.oid), i.oid)
    WHERE r.relname IN ('deliveries', 'delivered_items', 'items') AND t.relkind = 'r'
    GROUP BY r.relname, ri.relname
    ORDER BY 2 DESC"""


def _fresh(engine: str, folder: Path) -> tuple[str, Any]:
    """A new, migrated database on `engine`, and how to drop it."""
    from storage.migrate import upgrade

    if engine == "sqlite":
        url = f"sqlite:///{folder / 'retention.db'}"
        upgrade(url)
        return url, lambda: None
    import psycopg

    name = f"loa_bench_retention_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    upgrade(url)
    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of the subscribers and items (0.05 for a quick run)")
    parser.add_argument("--full", action="store_true",
                        help=f"write the outbox for all {DAYS} days, not the last {HISTORY_DAYS}")
    args = parser.parse_args()
    subscribers = max(100, int(SUBSCRIBERS * args.scale))
    items_per_day = max(100, int(ITEMS_PER_DAY * args.scale))
    if items_per_day % STEP == 0:
        items_per_day += 1
    history = DAYS if args.full else HISTORY_DAYS
    engines = ["postgresql", "sqlite"] if args.engine == "both" else [args.engine]
    command = "python bench/retention.py " + " ".join(sys.argv[1:])
    for engine in engines:
        with tempfile.TemporaryDirectory() as folder:
            url, drop = _fresh(engine, Path(folder))
            try:
                found = asyncio.run(simulate(url, engine, subscribers, items_per_day, history))
            finally:
                drop()
        for size in found["sizes"]:
            print(f"  {size.name}: {size.rows} rows, {size.mb:.1f} MB")
        for name, mb in found["relations"]:
            print(f"    {name}: {mb:.1f} MB")
        print(f"retention: engine={engine} days={DAYS} subscribers={subscribers} "
              f"items_per_day={items_per_day} outbox_days={history} "
              f"db_mb={found['db_mb']:.0f} target_mb=3072 seconds={found['seconds']:.0f} "
              f"deliveries_deleted={found['deleted']} partitions_dropped={found['dropped']}")
    print(f"command: {command.strip()}")


if __name__ == "__main__":
    main()
