"""Shared fixtures. Storage tests run on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).

Locally a missing PostgreSQL skips its half of the tests; in CI (CI=true) it fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from config import Settings, load_settings
from runtime import App, open_app
from storage.migrate import upgrade
from tests.fakes.telegram_api import FakeTelegram

# The feed_server fixture, for every test that asks for it.
pytest_plugins = ["tests.fakes.feed_server"]

PG_ADMIN_DSN = os.environ.get("LOA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One template per test session, so parallel sessions on one server do not collide.
TEMPLATE_DB = f"loa_tpl_{os.getpid()}"


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{database}"


def require_pg() -> None:
    """Skip the test when PostgreSQL is not reachable; in CI, fail it."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")


@contextmanager
def pg_database(template: str | None = None) -> Iterator[str]:
    """The URL of a new PostgreSQL database (a copy of `template`, or empty), dropped after."""
    name = f"loa_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it, which is much faster than migrating."""
    require_pg()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    upgrade(_pg_url(TEMPLATE_DB))
    yield TEMPLATE_DB
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated database on each engine."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'loa.db'}"
        upgrade(url)
        yield url
        return
    with pg_database(request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated SQLite database, for tests that are not about storage engines."""
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    upgrade(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: never read the developer's .env. Private sources are allowed, since
    the test feed server listens on 127.0.0.1; the policy's own tests turn them off."""
    values: dict[str, object] = {"database_url": database_url, "_env_file": None,
                                 "allow_private_sources": True}
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[App]:
    """The application objects on a fresh database, on both engines."""
    application = open_app(make_settings(db_url))
    yield application
    await application.close()


@pytest.fixture
async def sqlite_app(sqlite_url: str) -> AsyncIterator[App]:
    application = open_app(make_settings(sqlite_url))
    yield application
    await application.close()


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API server on 127.0.0.1 (see tests/fakes/telegram_api.py)."""
    with FakeTelegram() as server:
        yield server
