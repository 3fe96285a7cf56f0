"""Apply Alembic migrations from code: `python bot.py db upgrade`, and at `run`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from config import ConfigError
from storage.db import make_sync_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision under migrations/versions (tests/test_storage_migrations.py checks it
# against Alembic's own answer). Every CLI command upgrades first; a database already here is
# told by one query, without importing Alembic or running its environment (0.6 s of CPU).
HEAD = "0010"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    # Alembic's default output is the sys.stdout of when alembic.config was first imported;
    # under pytest that may be a test's captured stream, closed since (`alembic check` prints).
    cfg = Config(stdout=sys.stdout)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to `revision`. A database that cannot be opened at all is named as a setting
    (ConfigError), so start-up ends in one line rather than a driver's traceback."""
    engine = _reachable(url)
    try:
        if revision == "head" and _stamped(engine) == HEAD:
            return
    finally:
        engine.dispose()
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def _reachable(url: str) -> Engine:
    """An engine on `url` that has opened a connection, or ConfigError."""
    engine = make_sync_engine(url)
    try:
        engine.connect().close()
    except DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "no reason"
        raise ConfigError(f"invalid setting DATABASE_URL: cannot open the database ({reason})") \
            from None
    return engine


def _stamped(engine: Engine) -> str | None:
    """The revision in alembic_version when it holds exactly one (None: no table, no row, or a
    state only Alembic should judge)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated); raises ConfigError as
    `upgrade` does when it cannot be opened."""
    from alembic.runtime.migration import MigrationContext

    engine = _reachable(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
