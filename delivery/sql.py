"""The few statements that differ between SQLite and PostgreSQL, behind one name each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def upsert_insert(session: AsyncSession, model: Any) -> Any:
    """The dialect's INSERT, which has `.on_conflict_do_nothing()` on both engines (INSERT OR
    IGNORE on SQLite): a row that would break a unique or primary key is skipped, which is what
    makes enqueueing and matching idempotent."""
    module = postgresql if dialect(session) == "postgresql" else sqlite
    return module.insert(model)
