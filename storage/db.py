"""Engine and session set-up for SQLite (default) and PostgreSQL, from one DATABASE_URL."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

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


def make_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """The async engine the running bot uses (or, with a small pool, one for a task that must
    never wait behind the others' work: services.leadership's lease)."""
    engine = create_async_engine(async_url(url), pool_pre_ping=True, pool_size=pool_size)
    _configure(engine.sync_engine)
    return engine


def make_sync_engine(url: str) -> Engine:
    """A blocking engine, for migrations and one-shot CLI work."""
    engine = create_engine(sync_url(url), pool_pre_ping=True)
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
