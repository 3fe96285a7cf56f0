"""The audit log: every admin action, and every refused attempt at one.

When a person uses /stop, the log keeps what happened but not who: their id is replaced, in every
row that names them, by a pseudonym, a keyed hash of the id (the same in every row, so the record
still reads as one person's; without the key nobody can tell whose).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from runtime import App
from services import limits
from storage.models import AuditLog

PSEUDONYM_PREFIX = "anon:"
# The admin commands whose typed text names a person first: "/grant 42 official 33".
_NAMING_COMMANDS = ("/grant", "/revoke")


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


def _key(settings: Settings) -> bytes:
    """AUDIT_PSEUDONYM_KEY; unset, one derived from the first bot token (never the token itself,
    so a pseudonym tells nothing about it)."""
    for secret, derived in ((settings.audit_pseudonym_key, False),
                            (settings.telegram_bot_token, True), (settings.zalo_bot_token, True)):
        value = secret.get_secret_value().encode() if secret else b""
        if value:
            return hmac.new(value, b"loa audit pseudonyms", hashlib.sha256).digest() if derived \
                else value
    return b"loa: no secret configured"  # the console alone: nothing secret to key with


def pseudonym(settings: Settings, actor: str) -> str:
    """The stand-in for `actor` ("telegram:42") in the log: "anon:" and 16 hex digits."""
    digest = hmac.new(_key(settings), actor.encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:16]


def _names(row: AuditLog, who: str) -> bool:
    """Whether a typed /grant or /revoke row names `who` as its first word ("42 official 33",
    "telegram:42 admin"); a bare id is on the channel of the admin who typed it."""
    first = (row.target.split() or [""])[0]
    return actor_of(*limits.person_ref(first, row.actor.partition(":")[0])) == who


async def pseudonymise(session: AsyncSession, settings: Settings, channel: str,
                       user_key: str) -> int:
    """Replace a person's id with their pseudonym in every audit row that names them: as the
    actor, as the target, as the chat they acted in, or first in a typed /grant or /revoke.
    Returns how many rows changed. Runs in the caller's transaction (/stop's)."""
    who = actor_of(channel, user_key)
    alias = pseudonym(settings, who)
    rows = (await session.scalars(select(AuditLog).where(or_(
        AuditLog.actor == who, AuditLog.target == who,
        AuditLog.action.in_(_NAMING_COMMANDS))))).all()
    changed = 0
    for row in rows:
        before = (row.actor, row.target, row.details)
        if row.target == who:
            row.target = alias
        elif row.action in _NAMING_COMMANDS and _names(row, who):  # before the actor changes
            row.target = " ".join([alias, *row.target.split()[1:]])
        if row.actor == who:
            row.actor = alias
        if row.details and row.details.get("chat") == who:
            row.details = {**row.details, "chat": alias}
        changed += (row.actor, row.target, row.details) != before
    return changed
