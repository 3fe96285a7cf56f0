"""Engine and session set-up for SQLite (default) and PostgreSQL, from one DATABASE_URL."""

from __future__ import annotations

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


def make_engine(url: str) -> AsyncEngine:
    """The async engine the running bot uses."""
    engine = create_async_engine(async_url(url), pool_pre_ping=True)
    _configure(engine.sync_engine)
    return engine


def make_sync_engine(url: str) -> Engine:
    """A blocking engine, for migrations and one-shot CLI work."""
    engine = create_engine(sync_url(url), pool_pre_ping=True)
    _configure(engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
