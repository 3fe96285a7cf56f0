"""Set-based outbox writes store exactly what one row at a time stored, on both engines."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from model.enums import DeliveryKind, OutboxState
from model.outbox import OutboxPayload
from storage.dialect import MAX_RUNS, among, in_ranges, insert_rows, json_text, to_ranges
from storage.models import Chat, Delivery
from tests.delivery_support import T0, add_chat

COLUMNS = (Delivery.chat_id, Delivery.kind, Delivery.lane, Delivery.dedup_key, Delivery.due_at,
           Delivery.state, Delivery.parts_sent, Delivery.attempts, Delivery.created_at)


async def test_insert_rows_stores_each_row_and_skips_queued_keys(app) -> None:  # type: ignore[no-untyped-def]
    shared = OutboxPayload(items=(3, 1, 2)).to_json()  # one object for several rows
    async with app.sessions() as session, session.begin():
        chats = [await add_chat(session, f"c{n}") for n in range(4)]
        first = [
            {"chat_id": chats[0], "kind": DeliveryKind.INSTANT, "lane": 0,
             "dedup_key": "instant:a", "payload": shared, "due_at": T0},
            {"chat_id": chats[1], "kind": DeliveryKind.INSTANT, "lane": 0,
             "dedup_key": "instant:b", "payload": shared, "due_at": T0},
            {"chat_id": chats[2], "kind": DeliveryKind.DIGEST, "lane": 1,
             "dedup_key": "digest:held:c:\"quoted\" ký tự",
             "payload": OutboxPayload(mode="held", hour=7, weekday=0).to_json(),
             "due_at": T0 + timedelta(hours=5)},
        ]
        assert await insert_rows(session, first, T0) == 3
        # Queuing again is a no-op, and a new key in the same call is still added.
        again = [*first, {"chat_id": chats[3], "kind": DeliveryKind.DIGEST, "lane": 1,
                          "dedup_key": "digest:held:d", "payload": {"mode": "held"},
                          "due_at": T0 + timedelta(hours=6)}]
        assert await insert_rows(session, again, T0 + timedelta(minutes=1)) == 1
        assert await insert_rows(session, [], T0) == 0
    async with app.sessions() as session:
        stored = (await session.execute(
            select(*COLUMNS, json_text(session, Delivery.payload)).order_by(Delivery.dedup_key)
        )).all()
    expected: list[tuple[Any, ...]] = sorted(
        ((r["chat_id"], str(r["kind"]), r["lane"], r["dedup_key"], r["due_at"],
          OutboxState.PENDING, 0, 0, T0 + timedelta(minutes=1) * (r is again[-1]),
          json.dumps(r["payload"])) for r in again),
        key=lambda r: r[3])
    # The payload's text too, as the JSON column type writes it (PostgreSQL's json keeps it).
    assert [tuple(row) for row in stored] == expected


async def test_among_selects_the_given_ids(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as session, session.begin():
        chats = [await add_chat(session, f"a{n}") for n in range(5)]
    async with app.sessions() as session:
        def picked(ids: list[int]) -> Any:
            return session.scalars(select(Chat.id).where(among(session, Chat.id, ids))
                                   .order_by(Chat.id))
        assert list(await picked([chats[3], chats[0], chats[3], 10**9])) == [chats[0], chats[3]]
        assert list(await picked([])) == []


async def test_in_ranges_selects_the_given_ids_in_runs_or_scattered(app) -> None:  # type: ignore[no-untyped-def]
    """Ids in a few runs are read as BETWEENs; scattered ids (rows queued by several jobs at
    once) as one parameter, never as hundreds of BETWEENs: the same rows either way."""
    async with app.sessions() as session, session.begin():
        chats = [await add_chat(session, f"r{n}") for n in range(2 * MAX_RUNS + 4)]
    runs, scattered = chats[:6], chats[::2]
    assert len(to_ranges(runs)) == 1 and len(to_ranges(scattered)) > MAX_RUNS
    async with app.sessions() as session:
        def between_count(ids: list[int]) -> int:
            where = in_ranges(session, Chat.id, ids)
            return str(where.compile(dialect=session.bind.dialect)).count("BETWEEN")

        for ids in (runs, [*scattered, 10**9], [chats[0]], []):
            found = await session.scalars(
                select(Chat.id).where(in_ranges(session, Chat.id, ids)).order_by(Chat.id))
            assert list(found) == sorted(set(ids) - {10**9})
        assert between_count(runs) == 1 and between_count(scattered) == 0
