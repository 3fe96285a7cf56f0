"""The schema migrates on both engines and keeps times in UTC; SQLite's connections close
without hanging the event loop; PostgreSQL's compile no JIT; a long-running process's collector
is tuned."""

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, text

from storage.db import make_engine
from storage.models import Source
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]


async def test_migrated_schema_round_trips_utc(app) -> None:  # type: ignore[no-untyped-def]
    hanoi = timezone(timedelta(hours=7))
    async with app.sessions() as session:
        session.add(Source(url="https://example.vn/rss", name="Ví dụ",
                           next_check_at=datetime(2026, 9, 14, 18, 44, tzinfo=hanoi)))
        await session.commit()
    async with app.sessions() as session:
        source = (await session.execute(select(Source))).scalar_one()
    assert source.next_check_at == datetime(2026, 9, 14, 11, 44, tzinfo=UTC)
    assert source.next_check_at.tzinfo is not None
    assert source.state == "active" and source.error_count == 0


async def test_sqlite_runs_in_wal_mode(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    async with sqlite_app.engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert mode == "wal"
    assert timeout >= 1000


async def test_a_cancelled_close_after_a_forced_stop_ends(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    """SQLAlchemy's terminate of a connection cancelled mid-query: a graceful close, a forced
    stop that ends the worker, then the close cancelled at loop shutdown just as its answer
    arrives. With aiosqlite's own stop() that task waited forever (storage/db.py)."""
    async with sqlite_app.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        closing = asyncio.create_task(raw.close())
        await asyncio.sleep(0)  # the close waits for the worker
        raw.stop()
        raw._thread.join()  # the worker ran both and ended; the loop has not run since
        closing.cancel()
        await wait_for(closing.done)


async def test_postgresql_connections_compile_no_jit(db_url: str) -> None:
    """Loa's queries are short: JIT compilation only cost time (storage.db.make_engine). A URL
    that sets its own server options keeps them."""
    if not db_url.startswith("postgresql"):
        return
    for url, wanted in ((db_url, "off"), (f"{db_url}?options=-c%20jit%3Don", "on")):
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SHOW jit"))).scalar_one() == wanted
        finally:
            await engine.dispose()


def test_a_tuned_collector_freezes_what_start_up_left_and_collects_less_often() -> None:
    """runtime.tune_collector, in a process of its own (the collector is the process's): what is
    alive is frozen, the thresholds are raised, and garbage in cycles still goes."""
    probe = (
        "import gc, weakref\n"
        "from runtime import COLLECTOR_THRESHOLDS, tune_collector\n"
        "tune_collector()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert gc.get_threshold() == COLLECTOR_THRESHOLDS\n"
        "class Node: pass\n"
        "a, b = Node(), Node(); a.other, b.other = b, a\n"
        "gone = weakref.ref(a); del a, b\n"
        "kept = [[] for _ in range(2 * COLLECTOR_THRESHOLDS[0])]  # a young pass falls due\n"
        "assert gone() is None\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, timeout=60)
