"""The outbox: every message to send is a `deliveries` row, and the database decides what is sent.

Row life: pending → sending (claimed by one sender) → sent | failed | cancelled, or back to
pending (a retry later, a released claim). A claim is a lease: the claiming sender writes its id
into `claimed_by` and renews `claimed_at` while it works; a row whose lease ran out (its sender
was killed) is handed back to pending by whichever sender looks next, so a crash loses nothing.

Claiming is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING on PostgreSQL,
so several processes never claim the same row; SQLite has no row locks, and there the same
statement is atomic because SQLite runs one writer at a time.

Rows carry rendered parts in their payload (model.outbox.OutboxPayload.parts, each a Part: HTML
text, or a PNG with its caption); `parts_sent` counts the confirmed ones, so a long digest
resumes after the last part the platform accepted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, Select, bindparam, delete, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from delivery.contents import Matches, Rendered, Row, has_message, render, resolve
from delivery.pacing import INTERACTIVE
from delivery.recorder import Write
from model.channel import OutMessage
from model.enums import DeliveryKind, OutboxState
from model.outbox import OutboxPayload, Part
from runtime import App
from storage.dialect import (
    among,
    dialect,
    in_selected,
    json_rows,
    json_text,
    json_value,
    lock_for_write,
    rowcount,
    upsert_insert,
)
from storage.models import Chat, DeliveredItem, Delivery
from storage.views import ItemView, chunks

log = logging.getLogger(__name__)


# A claimed batch can be thousands of rows: a lookup, not an Enum call, per row.
_KINDS = {kind.value: kind for kind in DeliveryKind}
# Read through the tables, not the ORM classes: plain rows, no ORM result processing per row.
_TABLE = Delivery.__table__
_CHATS = Chat.__table__


def _due(channel: str, lane: int, now: datetime) -> Select[int]:
    """The ids of the due pending rows of one channel and lane."""
    return (
        select(Delivery.id)
        .join(Chat, Chat.id == Delivery.chat_id)
        .where(Delivery.state == OutboxState.PENDING, Delivery.lane == lane, Delivery.due_at <= now,
               Chat.channel == channel)
    )


async def any_due(app: App, channel: str, lane: int) -> bool:
    """Whether a claim would find a row: a read, a third of an empty claim's CPU on SQLite (a
    write transaction, queued to the Recorder), which an idle sender would otherwise make every
    poll of every lane."""
    async with app.sessions() as session:
        found = await session.scalar(_due(channel, lane, app.clock()).limit(1))
    return found is not None


def claiming(channel: str, lane: int, limit: int, owner: str, now: datetime) -> Write:
    """A write: claim up to `limit` due pending rows of one channel and lane, oldest due first;
    returns them as Rows."""
    due = (
        _due(channel, lane, now)
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )

    async def write(session: AsyncSession) -> list[Row]:
        # Core statements on the connection: no ORM result processing for thousands of rows.
        conn = await session.connection()
        d, c = _TABLE.c, _CHATS.c
        # The claimed rows come back with their chats from the UPDATE itself, not from a second
        # statement that finds them again by id: joined on PostgreSQL; SQLite's RETURNING may
        # name no other table, and reads each chat's columns by its rowid.
        claim = update(_TABLE).where(in_selected(session, d.id, due))
        chat: list[Any]
        if dialect(session) == "postgresql":
            claim, chat = claim.where(c.id == d.chat_id), [c.chat_key, c.kind, c.channel, c.lang]
        else:
            chat = [select(column).where(c.id == d.chat_id).scalar_subquery()
                    for column in (c.chat_key, c.kind, c.channel, c.lang)]
        result = list(await conn.execute(
            claim.values(state=OutboxState.SENDING, claimed_at=now, claimed_by=owner)
            .returning(d.id, d.chat_id, *chat, d.kind, d.lane, json_text(session, d.payload),
                       d.due_at, d.parts_sent, d.attempts)))
        result.sort(key=lambda r: (r[9], r[0]))  # oldest due first; RETURNING has no order
        # Rows of one kind mostly carry the same payload text (a digest's schedule, an
        # instant row's items): each distinct text is parsed once, and its rows share its
        # item tuples (which delivery.contents then works out once per tuple).
        parsed: dict[str | None, OutboxPayload] = {}
        rows = []
        for r in result:
            text = r[8]
            payload = parsed.get(text)
            if payload is None:
                payload = parsed[text] = OutboxPayload.from_json(
                    json.loads(text) if text else None)
            rows.append(Row(id=r[0], chat_id=r[1], chat_key=r[2], chat_kind=r[3], channel=r[4],
                            lang=r[5], kind=_KINDS[r[6]], lane=r[7], payload=payload.copy(),
                            due_at=r[9], parts_sent=r[10], attempts=r[11]))
        return rows
    return write


async def claim(app: App, channel: str, lane: int, limit: int, owner: str) -> list[Row]:
    """Claim rows in a transaction of their own (see `claiming`)."""
    claimed: list[Row] = await in_transaction(
        app, claiming(channel, lane, limit, owner, app.clock()))
    return claimed


# Scheduled rows that resolve to nothing are deleted, not kept as cancelled: a chat with nothing
# to receive leaves no row behind. Nothing needs them: the next digest's window then reaches back
# to the chat's previous digest that had something (clamped by delivery.contents.MAX_CATCHUP),
# and what the chat already has is left out of it by `delivered_items`.
SCHEDULED = (DeliveryKind.DIGEST, DeliveryKind.REPORT)


def storing_resolved(rows: list[Row], views: dict[int, ItemView], owner: str) -> Write | None:
    """A write, made while the rows render (`views` from `contents.resolve`): store the items
    of the resolved rows that will have a message (`contents.has_message`). What a row holds
    is then stored before it is sent, and the database stores it while this process renders.
    None when no row gained anything (a batch of broadcasts): no transaction for nothing."""
    resolved = [r for r in rows if r.changed and has_message(r, views)]
    return _storing(resolved, owner) if resolved else None


def saving_prepared(rows: list[Row], owner: str) -> Write:
    """A write, once the rows are rendered: store what `storing_resolved` did not; a digest or
    report with nothing to send is deleted, any other row with nothing to send is closed as
    empty."""
    changed = [r for r in rows if r.changed and r.parts]
    gone = [r.id for r in rows if not r.parts and r.kind in SCHEDULED]
    empty = [r.id for r in rows if not r.parts and r.kind not in SCHEDULED]
    store = _storing(changed, owner)

    async def write(session: AsyncSession) -> None:
        await store(session)
        for part in chunks(gone):
            await session.execute(
                delete(Delivery).where(among(session, Delivery.id, part),
                                       Delivery.claimed_by == owner))
        for part in chunks(empty):
            await session.execute(
                update(Delivery)
                .where(among(session, Delivery.id, part), Delivery.claimed_by == owner)
                .values(state=OutboxState.CANCELLED, last_error="empty: nothing to send",
                        claimed_by=None)
            )
    return write


def unsaved(rows: list[Row]) -> bool:
    """Whether `saving_prepared` has anything to write for the rendered `rows`."""
    return any(r.changed or not r.parts for r in rows)


def _storing(rows: list[Row], owner: str) -> Write:
    """A write: store the payloads of `rows`, in one statement, the payloads in one JSON
    parameter (`json_rows`): a claimed batch can be thousands of rows, and many carry the same
    payload (chats that follow the same things): each is converted once."""
    async def write(session: AsyncSession) -> None:
        if not rows:
            return  # (saving_prepared's, when everything was stored while rendering)
        shapes: dict[tuple[Any, ...], dict[str, Any]] = {}
        values = []
        for r in rows:
            key = _payload_key(r.payload)
            shape = shapes.get(key) if key is not None else None
            if shape is None:
                shape = r.payload.to_json()
                if key is not None:
                    shapes[key] = shape
            values.append([r.id, shape])
        row_id, payload = json_rows(session, values, BigInteger, JSON)
        await (await session.connection()).execute(
            update(_TABLE).where(_TABLE.c.id == row_id, _TABLE.c.claimed_by == owner)
            .values(payload=json_value(session, payload)))
        for row in rows:
            row.changed = False
    return write


async def prepare(app: App, rows: list[Row], limits: dict[str, int], rendered: Rendered,
                  matches: Matches, owner: str,
                  write: Callable[[Write], Awaitable[Any]]) -> None:
    """Give claimed rows their parts and store what they hold: `contents.resolve`, then
    `contents.render` while the database stores the resolved items (`storing_resolved`), then
    `saving_prepared`. `write` runs a write (the sender's Recorder, or a transaction of its
    own); `limits`: max text units by channel; `rendered`, `matches`: what earlier batches of the
    run worked out. One batch at a time per sender: two rows of one chat (an alert and a
    digest, in their two lanes) must not both take an item before either has stored it."""
    async with app.sessions() as session:
        views = await resolve(app, session, rows, limits, matches)
    store = storing_resolved(rows, views, owner)
    stored = asyncio.ensure_future(write(store)) if store else None
    failed: BaseException | None = None
    try:
        await render(app, rows, views, limits, rendered)
    finally:
        if stored is not None:
            await asyncio.wait([stored])
            # Read here too when rendering failed: never an "unretrieved" task error.
            failed = stored.exception()
    if failed is not None:
        raise failed
    if unsaved(rows):
        await write(saving_prepared(rows, owner))


def _payload_key(payload: OutboxPayload) -> tuple[Any, ...] | None:
    """All a payload holds, hashable; None for one with parts (a report's: rare, and big). Its
    tuples count by identity (rows that carry the same items share one, delivery.contents), so
    the key is valid while the payload is alive."""
    if payload.parts is not None:
        return None
    return (payload.mode, payload.hour, payload.weekday, payload.checked, id(payload.items),
            id(payload.low))


async def save_prepared(app: App, rows: list[Row], owner: str) -> None:
    await in_transaction(app, saving_prepared(rows, owner))


# Built once: a result is recorded per message sent, hundreds of times a second.
_MINE = (_TABLE.c.id == bindparam("row_id")) & (_TABLE.c.claimed_by == bindparam("owner"))
_PART_SENT = update(_TABLE).where(_MINE).values(
    parts_sent=bindparam("parts_sent"), claimed_at=bindparam("now"))
# A sent row's payload is emptied: nothing reads it again (what it gave is in
# `delivered_items`; digest windows read a sent row's due time only), and a weekly digest's
# item list or a report's chart would otherwise stay in the row for the retention window.
_FINISHED = update(_TABLE).where(_MINE).values(
    state=OutboxState.SENT, parts_sent=bindparam("parts_sent"), sent_at=bindparam("now"),
    claimed_by=None, claimed_at=None, last_error=None, payload=literal({}, JSON()))


def part_sent(row: Row, owner: str, now: datetime) -> Write:
    """A write (for the Recorder): one more part confirmed; renews the lease."""
    async def write(session: AsyncSession) -> None:
        await session.execute(_PART_SENT, {"row_id": row.id, "owner": owner,
                                           "parts_sent": row.parts_sent, "now": now})
    return write


def finished(row: Row, owner: str, now: datetime) -> Write:
    """A write: the row is sent; its items are now the chat's (each item once per chat)."""
    async def write(session: AsyncSession) -> None:
        await session.execute(_FINISHED, {"row_id": row.id, "owner": owner,
                                          "parts_sent": row.parts_sent, "now": now})
        items = row.payload.items or ()
        if items:
            await session.execute(
                upsert_insert(session, DeliveredItem).on_conflict_do_nothing(),
                [{"chat_id": row.chat_id, "item_id": i, "created_at": now} for i in items],
            )
    return write


def closed(row: Row, owner: str, state: OutboxState, reason: str) -> Write:
    """A write: the row ends as failed or cancelled, with the reason."""
    async def write(session: AsyncSession) -> None:
        await session.execute(
            update(Delivery).where(Delivery.id == row.id, Delivery.claimed_by == owner)
            .values(state=state, parts_sent=row.parts_sent, attempts=row.attempts,
                    last_error=reason[:2000], claimed_by=None)
        )
    return write


def retry_later(row: Row, owner: str, due: datetime, reason: str, *,
                count_attempt: bool = True) -> Write:
    """A write: back to pending, due again at `due` (an attempt is counted unless the platform
    merely asked us to wait or our own token is being fixed)."""
    async def write(session: AsyncSession) -> None:
        await session.execute(
            update(Delivery).where(Delivery.id == row.id, Delivery.claimed_by == owner)
            .values(state=OutboxState.PENDING, due_at=due, parts_sent=row.parts_sent,
                    attempts=row.attempts if count_attempt else Delivery.attempts,
                    last_error=reason[:2000], claimed_by=None, claimed_at=None)
        )
    return write


def renewing(owner: str, ids: list[int], now: datetime) -> Write:
    """A write: keep alive the leases of the rows this sender is working on. Only those: a row
    it claimed but lost track of runs out of lease and is taken over, not held forever."""
    async def write(session: AsyncSession) -> None:
        for part in chunks(sorted(ids)):
            await session.execute(
                update(Delivery).where(Delivery.id.in_(part), Delivery.claimed_by == owner,
                                       Delivery.state == OutboxState.SENDING)
                .values(claimed_at=now)
            )
    return write


def reclaiming(cutoff: datetime, working: Sequence[int] = ()) -> Write:
    """A write: rows whose lease ran out before `cutoff` (their sender died) go back to
    pending, but for the `working` ones this process is sending (a lease renewed late on a
    stalled machine is no dead sender); returns how many."""
    async def write(session: AsyncSession) -> int:
        where = [Delivery.claimed_at < cutoff]
        if working:
            where.append(Delivery.id.not_in(sorted(working)))
        count = await _back_to_pending(session, *where)
        if count:
            log.warning("took over %d deliveries from a sender that stopped (crash?)", count)
        return count
    return write


async def _back_to_pending(session: AsyncSession, *where: Any) -> int:
    """Rows being sent that match `where` go back to pending, unclaimed; returns how many."""
    ids = (await session.scalars(
        update(Delivery)
        .where(Delivery.state == OutboxState.SENDING, *where)
        .values(state=OutboxState.PENDING, claimed_by=None, claimed_at=None)
        .returning(Delivery.id)
    )).all()
    return len(ids)


def stale_cutoff(app: App, now: datetime | None = None) -> datetime:
    """When a lease renewed at `now` (default: the app's clock) started to run out."""
    return (now or app.clock()) - timedelta(seconds=app.settings.delivery_claim_timeout_seconds)


async def reclaim_stale(app: App) -> int:
    reclaimed: int = await in_transaction(app, reclaiming(stale_cutoff(app)))
    return reclaimed


def _of_channel(channel: str) -> Any:
    return Delivery.chat_id.in_(select(Chat.id).where(Chat.channel == channel))


async def release_claims(app: App, owner: str, channel: str | None = None) -> int:
    """On a clean stop (of every sender, or of one channel's): what this process holds goes
    back to pending at once."""
    async def write(session: AsyncSession) -> int:
        where = [Delivery.claimed_by == owner]
        if channel is not None:
            where.append(_of_channel(channel))
        return await _back_to_pending(session, *where)
    released: int = await in_transaction(app, write)
    return released


async def take_over_channel(app: App, channel: str, owner: str) -> int:
    """A new leader of `channel` (services.leadership) takes back at once what the previous
    one held: only the leader sends on a channel, and the previous one stopped before its lease
    ran out (or died), so what it held was in flight at most. Returns how many rows."""
    async def write(session: AsyncSession) -> int:
        count = await _back_to_pending(session, Delivery.claimed_by != owner,
                                       _of_channel(channel))
        if count:
            log.warning("%s: took over %d deliveries from the previous leader", channel, count)
        return count
    taken: int = await in_transaction(app, write)
    return taken


async def in_transaction(app: App, write: Write) -> Any:
    """Run one write in a transaction of its own (outside the sender's Recorder)."""
    async with app.sessions() as session, session.begin():
        await lock_for_write(session)
        return await write(session)


async def enqueue(
    app: App, chat_id: int, parts: list[str], *, kind: DeliveryKind, dedup_key: str,
    lane: int = INTERACTIVE, due_at: datetime | None = None, session: AsyncSession | None = None,
    payload: OutboxPayload | None = None,
) -> bool:
    """Queue an already rendered message (HTML parts, or a `payload` of any parts) for one
    chat; a second call with the same `dedup_key` is a no-op. Returns whether a row was added."""
    values: dict[str, Any] = {
        "chat_id": chat_id, "kind": kind, "lane": lane, "dedup_key": dedup_key[:128],
        "payload": (payload or OutboxPayload.of_parts(parts)).to_json(),
        "due_at": due_at or app.clock(),
        "state": OutboxState.PENDING, "parts_sent": 0, "attempts": 0, "created_at": app.clock(),
    }

    async def add(s: AsyncSession) -> bool:
        result = await s.execute(
            upsert_insert(s, Delivery).values(values).on_conflict_do_nothing(),
            execution_options={"preserve_rowcount": True},
        )
        return rowcount(result) > 0

    if session is not None:
        return await add(session)
    async with app.sessions() as s, s.begin():
        await lock_for_write(s)
        return await add(s)


async def relay_reply(app: App, channel: str, chat_key: str, message: OutMessage) -> None:
    """Queue a command's reply for the instance that leads `channel` to send, in the
    interactive lane (services.leadership): the instance that took the update in (by webhook)
    does not send on the channel itself, so the platform's limits hold for all instances."""
    async with app.sessions() as session:
        chat_id = await session.scalar(
            select(Chat.id).where(Chat.channel == channel, Chat.chat_key == chat_key))
    if chat_id is None:
        log.warning("%s reply to unknown chat %s dropped", channel, chat_key)
        return
    await enqueue(app, chat_id, [], kind=DeliveryKind.REPLY,
                  dedup_key=f"reply:{chat_id}:{uuid.uuid4().hex}",  # every reply is new
                  payload=OutboxPayload(parts=[Part(message.text, message.photo)]))
