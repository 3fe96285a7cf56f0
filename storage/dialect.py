"""The few statements that differ between SQLite and PostgreSQL, behind one name each."""

from __future__ import annotations

import json
import typing
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Select,
    String,
    Text,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from model.enums import DeliveryKind, OutboxState
from storage.models import Delivery, Item, UTCDateTime


def dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE changed; 0 when the driver cannot tell (-1)."""
    # Session.execute is typed as returning a Result; for those statements it is a CursorResult.
    return max(typing.cast(CursorResult[Any], result).rowcount or 0, 0)


def has_words(dialect_name: str, padded: ColumnElement[str], phrase: str) -> ColumnElement[bool]:
    """`phrase` (words of [a-z0-9], single spaces) occurs in `padded` (text with a space at
    each end) as whole words: between two characters that are not [a-z0-9]. SQLite says that
    with GLOB and a character class, PostgreSQL with a regular expression; the two patterns mean
    the same thing."""
    if dialect_name == "sqlite":
        return padded.op("GLOB", is_comparison=True)(f"*[^a-z0-9]{phrase}[^a-z0-9]*")
    return padded.op("~", is_comparison=True)(f"[^a-z0-9]{phrase}[^a-z0-9]")


def not_a_copy() -> ColumnElement[bool]:
    """The item is no republished copy (`duplicate_of` IS NULL), written so that SQLite's
    planner, which keeps no statistics, never reads a time window through the `duplicate_of`
    index: almost every item is NULL there, so that would walk every item ever stored instead of
    the window's few (`+ 0` is the same value, but no indexed column; PostgreSQL, which knows
    better, is not hindered)."""
    return (Item.duplicate_of + 0).is_(None)


def in_state(state: str) -> ColumnElement[bool]:
    """The outbox row is in `state`, written so that SQLite never reads it through the
    `ix_deliveries_due` index (state, lane, due_at) when the query names its chats: a run of
    digests holds tens of thousands of rows "sending", and walking them all for each batch of
    chats costs far more than the chats' own rows by `ix_deliveries_chat_id` (`|| ''` is the
    same value, but no indexed column; PostgreSQL, which knows better, is not hindered)."""
    return (Delivery.state + "") == state


def upsert_insert(session: AsyncSession, model: Any) -> Any:
    """The dialect's INSERT, which has `.on_conflict_do_nothing()` on both engines (INSERT OR
    IGNORE on SQLite): a row that would break a unique or primary key is skipped, which is what
    makes enqueueing and matching idempotent."""
    module = postgresql if dialect(session) == "postgresql" else sqlite
    return module.insert(model)


async def insert_pending(session: AsyncSession, *, chat_id: Any, kind: DeliveryKind, lane: int,
                         dedup_key: Any, payload: Any, due_at: datetime, now: datetime) -> int:
    """Queue one pending outbox row per row that the column expressions select from, skipping
    any whose `dedup_key` is already queued; returns how many were added."""
    rows = select(
        chat_id.label("chat_id"),
        literal(str(kind), String).label("kind"),  # the plain string: a column of strings
        literal(lane).label("lane"),
        dedup_key.label("dedup_key"),
        payload.label("payload"),
        literal(due_at, UTCDateTime()).label("due_at"),
        literal(OutboxState.PENDING.value).label("state"),
        literal(0).label("parts_sent"),
        literal(0).label("attempts"),
        literal(now, UTCDateTime()).label("created_at"),
    ).where(true())  # SQLite: without a WHERE, "ON CONFLICT" would parse as a join's ON
    columns = ["chat_id", "kind", "lane", "dedup_key", "payload", "due_at", "state",
               "parts_sent", "attempts", "created_at"]
    # Counted by RETURNING, not rowcount: Python's sqlite3 reports no rowcount (-1) for a
    # statement that starts with WITH, as this one does when its SELECT reads a CTE.
    result = await session.execute(
        upsert_insert(session, Delivery).from_select(columns, rows).on_conflict_do_nothing()
        .returning(Delivery.id))
    return len(result.all())


async def insert_rows(session: AsyncSession, rows: list[dict[str, Any]], now: datetime) -> int:
    """`insert_pending` for rows built in Python (chat_id, kind, lane, dedup_key, payload,
    due_at): one statement per (kind, lane, due_at), its rows' varying columns sent as one JSON
    parameter (`json_rows`): no per-row parameters for the driver or SQLAlchemy to process (an
    executemany of 27,000 instant rows took 2.2 s of CPU on PostgreSQL). Returns how many were
    added. Rows that share a payload object (chats that follow the same things) have it
    serialised once."""
    texts: dict[int, str] = {}  # id of a payload → its JSON, while `rows` holds them all
    groups: dict[tuple[DeliveryKind, int, datetime], list[list[Any]]] = {}
    for row in rows:
        payload = row["payload"]
        text = texts.get(id(payload))
        if text is None:
            text = texts[id(payload)] = json.dumps(payload)  # what the JSON column type writes
        groups.setdefault((row["kind"], row["lane"], row["due_at"]), []).append(
            [row["chat_id"], row["dedup_key"], text])
    added = 0
    for (kind, lane, due_at), values in groups.items():
        chat_id, dedup_key, payload = json_rows(session, values, BigInteger, String, String)
        added += await insert_pending(session, chat_id=chat_id, kind=kind, lane=lane,
                                      dedup_key=dedup_key, payload=json_value(session, payload),
                                      due_at=due_at, now=now)
    return added


def json_rows(session: AsyncSession, rows: list[list[Any]],
              *types: type[TypeEngine[Any]]) -> list[ColumnElement[Any]]:
    """The columns of `rows` (lists of JSON values, one type per column), for a SELECT that
    reads them from one JSON parameter: thousands of rows cost one bound value and the
    database's own JSON parser, not a parameter (and its processing) each. A JSON column's
    values are objects in the document, read back as JSON text (for `json_value`): not each as
    a string inside the document, and an object that several rows share (chats that follow the
    same things share one payload) encoded once."""
    doc = bindparam(None, _encode_rows(rows, types), type_=String)
    if dialect(session) == "postgresql":
        each = func.json_array_elements(cast(doc, JSON)).table_valued("value")
        return [type_coerce(each.c.value.op("->")(n), String) if kind is JSON
                else cast(each.c.value.op("->>")(n), kind) for n, kind in enumerate(types)]
    each = func.json_each(doc).table_valued("value")
    return [type_coerce(func.json_extract(each.c.value, f"$[{n}]"),
                        String if kind is JSON else kind) for n, kind in enumerate(types)]


def _encode_rows(rows: list[list[Any]], types: tuple[type[TypeEngine[Any]], ...]) -> str:
    """`json.dumps(rows)`, where a JSON column's value is encoded once however many rows hold
    it (by identity: `rows` keeps them alive meanwhile)."""
    if JSON not in types:
        return json.dumps(rows)
    texts: dict[int, str] = {}

    def encode(value: Any, kind: type[TypeEngine[Any]]) -> str:
        if kind is not JSON:
            return json.dumps(value)
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = json.dumps(value)
        return text

    return "[" + ",".join("[" + ",".join(map(encode, row, types)) + "]" for row in rows) + "]"


def json_value(session: AsyncSession, text: Any) -> Any:
    """Serialised JSON (a text expression) as a value for a JSON column."""
    if dialect(session) == "postgresql":
        return cast(text, JSON)
    return type_coerce(text, String)


def text_list(session: AsyncSession, column: Any) -> Any:
    """An aggregate: the values of `column` (strings without commas) in a group, as "a,b"
    text, in no particular order."""
    if dialect(session) == "postgresql":
        return func.string_agg(column, literal(","))
    return func.group_concat(column)


def json_text(session: AsyncSession, value: Any) -> Any:
    """A JSON column read as its stored text, not parsed: many rows carry the same text, which
    the caller then parses once. (PostgreSQL's driver parses JSON itself: the cast stops it;
    SQLite stores JSON as text.)"""
    if dialect(session) == "postgresql":
        return cast(value, Text)
    return type_coerce(value, String)


def among(session: AsyncSession, column: Any, ids: list[int]) -> ColumnElement[bool]:
    """`column` IN `ids`, the ids sent as one parameter: an array on PostgreSQL, a JSON list read
    by json_each on SQLite. An IN list of thousands of parameters is compiled anew by SQLAlchemy
    for every length, a name per value, and parsed by PostgreSQL value by value (1.5 s of CPU in
    the match+compose bench, where each batch names 2,500 chats and a thousand items)."""
    if dialect(session) == "postgresql":
        found: ColumnElement[bool] = column == func.any(
            bindparam(None, ids, type_=postgresql.ARRAY(BigInteger)))
        return found
    each = func.json_each(bindparam(None, json.dumps(ids), type_=String)).table_valued("value")
    return typing.cast(ColumnElement[bool], column.in_(select(each.c.value)))


def in_selected(session: AsyncSession, column: Any, ids: Select[Any]) -> ColumnElement[bool]:
    """`column` IN (`ids`, a SELECT of one column), written for PostgreSQL as
    `= ANY(ARRAY(...))`: the planner then looks the selected keys up by index, where it plans
    IN (SELECT ...) as a join that reads the whole table (a claim's UPDATE walked every outbox
    row to change 2,500). SQLite looks them up by rowid either way."""
    if dialect(session) == "postgresql":
        found: ColumnElement[bool] = column == func.any(func.array(ids.scalar_subquery()))
        return found
    return typing.cast(ColumnElement[bool], column.in_(ids.scalar_subquery()))


def to_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Ids as (first, last) runs of consecutive values: a claimed batch is mostly one or two."""
    runs: list[list[int]] = []
    for value in sorted(set(ids)):
        if runs and value == runs[-1][1] + 1:
            runs[-1][1] = value
        else:
            runs.append([value, value])
    return [(first, last) for first, last in runs]


# Beyond this many runs, `in_ranges` sends the ids as one parameter instead.
MAX_RUNS = 16


def in_ranges(session: AsyncSession, column: Any, ids: list[int]) -> Any:
    """`column` is one of `ids`: BETWEENs over runs, a short statement for thousands of mostly
    consecutive ids (a claimed batch, queued together); `among` when they make many runs (rows
    queued by several jobs at once interleave their ids, and PostgreSQL plans hundreds of
    BETWEENs as as many index scans: 0.6 to 1.4 s per batch of 2,500, not 7 ms)."""
    runs = to_ranges(ids)
    if not runs:
        return false()
    if len(runs) > MAX_RUNS:
        return among(session, column, ids)
    return or_(*(column.between(first, last) for first, last in runs))


async def lock_for_write(session: AsyncSession) -> None:
    """Start this transaction as a writer on SQLite (BEGIN IMMEDIATE), waiting for the lock
    under the busy timeout. A deferred transaction that reads first and writes second fails at
    once with "database is locked" when another writer committed in between; this one waits its
    turn instead. A no-op on PostgreSQL. Call it first thing in the transaction."""
    if dialect(session) == "sqlite":
        await session.execute(text("BEGIN IMMEDIATE"))
