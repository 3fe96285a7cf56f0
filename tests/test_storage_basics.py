"""The schema migrates on both engines and keeps times in UTC; SQLite's connections close
without hanging the event loop."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select, text

from storage.models import Source
from tests.waiting import wait_for


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
