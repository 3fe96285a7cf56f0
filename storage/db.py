"""Engine and session set-up for SQLite (default) and PostgreSQL, from one DATABASE_URL."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Any

import aiosqlite
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _driver_url(url: str, *, use_async: bool) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        driver = "aiosqlite" if use_async else "pysqlite"
    elif backend in ("postgresql", "postgres"):
        backend, driver = "postgresql", "psycopg"
    else:
        raise ValueError(f"unsupported database {backend!r}")
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    return _driver_url(url, use_async=False)


def async_url(url: str) -> str:
    return _driver_url(url, use_async=True)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _configure(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


class _SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, with a stop() that may come twice.

    When a task is cancelled inside a query, SQLAlchemy terminates its connection: a shielded
    graceful close, and a forced stop() that ends the worker thread if the close is cancelled.
    When the graceful close then resumes, cancelled too (the loop's shutdown cancels every
    task), aiosqlite's close() ends with a stop() of its own: work queued for the ended worker,
    awaited with the cancellation already spent. That task never ends, and the shutdown, which
    waits for every task, hangs (aiosqlite 0.22; tests/test_storage_basics.py shows it)."""

    def stop(self) -> asyncio.Future[Any] | None:
        if not self._running:  # stopped before: the worker ends with that stop
            return None
        return super().stop()


async def _connect_sqlite(database: str, kwargs: Mapping[str, Any]) -> aiosqlite.Connection:
    """What aiosqlite.connect does, with _SQLiteConnection; the worker is a daemon thread, as
    SQLAlchemy makes its own, so a connection never closed cannot keep the process alive."""
    connection = _SQLiteConnection(functools.partial(sqlite3.connect, database, **kwargs), 64)
    connection._thread.daemon = True
    return await connection


def make_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """The async engine the running bot uses (or, with a small pool, one for a task that must
    never wait behind the others' work: services.leadership's lease). A PostgreSQL connection
    is pinged before use (the server may have dropped it: a restart, an outage); a SQLite file
    cannot drop one, and the ping would cost a hop to aiosqlite's thread per session."""
    driver_url = make_url(async_url(url))
    options: dict[str, Any] = {}
    sqlite = driver_url.get_backend_name() == "sqlite"
    if sqlite:
        (database,), kwargs = driver_url.get_dialect()().create_connect_args(driver_url)
        options["async_creator"] = functools.partial(_connect_sqlite, database, kwargs)
    elif "options" not in driver_url.query:
        # No JIT compilation: it pays only for long analytic queries, and Loa's are short. The
        # planner's cost of reading 30,000 instant subscriptions with their labels passes the
        # threshold, and compiling took 480 ms of that 820 ms query (bench/delivery.py).
        options["connect_args"] = {"options": "-c jit=off"}
    engine = create_async_engine(driver_url, pool_pre_ping=not sqlite, pool_size=pool_size,
                                 **options)
    _configure(engine.sync_engine)
    return engine


def make_sync_engine(url: str) -> Engine:
    """A blocking engine, for migrations and one-shot CLI work."""
    driver_url = make_url(sync_url(url))
    engine = create_engine(driver_url, pool_pre_ping=driver_url.get_backend_name() != "sqlite")
    _configure(engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class AlreadyRunning(Exception):
    """Another `bot.py run` has this SQLite database."""


@contextlib.contextmanager
def single_instance(url: str) -> Iterator[None]:
    """On SQLite, hold an exclusive lock on `<database>.lock` for as long as the bot runs: a
    second instance on the same file raises AlreadyRunning at once. SQLite's own locking can't
    tell: two processes take turns writing and would both poll and send. The kernel drops the
    lock when the process dies, even by kill -9, so it never goes stale. Nothing on PostgreSQL,
    where several instances share the work (storage.leases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        yield
        return
    path = f"{parsed.database}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another Loa instance is already running on {parsed.database} (locked: "
                f"{path}); SQLite serves one instance, set DATABASE_URL to PostgreSQL to run "
                "several") from None
        yield
    finally:
        os.close(fd)
