"""Apply Alembic migrations from code: `python bot.py db upgrade`, and at `run`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import DBAPIError

from config import ConfigError
from storage.db import make_sync_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to `revision`. A database that cannot be opened at all is named as a setting
    (ConfigError), so start-up ends in one line rather than a driver's traceback."""
    check_reachable(url)
    command.upgrade(alembic_config(url), revision)


def check_reachable(url: str) -> None:
    engine = make_sync_engine(url)
    try:
        engine.connect().close()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else "no reason"
        raise ConfigError(f"invalid setting DATABASE_URL: cannot open the database ({reason})") \
            from None
    finally:
        engine.dispose()


def current_head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated); raises ConfigError as
    `check_reachable` does when it cannot be opened."""
    from alembic.runtime.migration import MigrationContext

    check_reachable(url)
    engine = make_sync_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
