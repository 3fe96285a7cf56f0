"""The audit log: every admin action, and every refused attempt at one."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from runtime import App
from storage.models import AuditLog


def actor_of(channel: str, user_key: str) -> str:
    """How people appear in the log: "telegram:12345", "zalo:ab12"; the CLI is "cli"."""
    return f"{channel}:{user_key}"


def record(session: AsyncSession, actor: str, action: str, target: str = "", *,
           allowed: bool = True, **details: Any) -> None:
    """Add an entry to `session`; it is written with the caller's transaction."""
    session.add(AuditLog(actor=actor[:96], action=action[:64], target=target[:512],
                         allowed=allowed, details=details or None))


async def record_now(app: App, actor: str, action: str, target: str = "", *,
                     allowed: bool = True, **details: Any) -> None:
    """Write an entry in its own transaction (e.g. a refusal, where nothing else is written)."""
    async with app.sessions() as session, session.begin():
        record(session, actor, action, target, allowed=allowed, **details)
