"""The outbox's claim and save steps (delivery.outbox), on both engines."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from delivery import outbox
from delivery.contents import resolve
from model.enums import DeliveryKind, OutboxState
from model.outbox import OutboxPayload, Part
from storage.dialect import insert_rows, json_text
from storage.models import Delivery
from tests.delivery_support import T0, add_chat


async def test_a_claim_takes_the_oldest_due_rows_of_its_lane_and_channel(app) -> None:  # type: ignore[no-untyped-def]
    app.clock = lambda: T0
    async with app.sessions() as session, session.begin():
        telegram = [await add_chat(session, f"t{n}") for n in range(6)]
        zalo = await add_chat(session, "z", channel="zalo")
        rows = [  # (chat, lane, due): ids in this order
            (telegram[0], 1, T0), (telegram[1], 1, T0 - timedelta(minutes=5)),
            (telegram[2], 1, T0), (telegram[3], 1, T0 + timedelta(minutes=1)),  # not due yet
            (telegram[4], 0, T0 - timedelta(hours=1)),  # the other lane
            (zalo, 1, T0 - timedelta(hours=1)),  # the other channel
            (telegram[5], 1, T0 - timedelta(minutes=5)),
        ]
        await insert_rows(session, [
            {"chat_id": chat, "kind": DeliveryKind.DIGEST, "lane": lane, "dedup_key": f"k{n}",
             "payload": OutboxPayload(mode="daily", hour=7, weekday=0).to_json(), "due_at": due}
            for n, (chat, lane, due) in enumerate(rows)], T0)
    assert await outbox.any_due(app, "telegram", 1)
    first = await outbox.claim(app, "telegram", 1, 3, "w1")
    # Oldest due first, then by id; the rest of the lane's due rows in the next claim.
    assert [r.chat_id for r in first] == [telegram[1], telegram[5], telegram[0]]
    assert [r.chat_id for r in await outbox.claim(app, "telegram", 1, 3, "w2")] == [telegram[2]]
    assert await outbox.claim(app, "telegram", 1, 3, "w2") == []
    # What an idle sender reads before claiming agrees: nothing due left in the lane (the row
    # due in a minute is not), some in the other lane and the other channel.
    assert not await outbox.any_due(app, "telegram", 1)
    assert await outbox.any_due(app, "telegram", 0) and await outbox.any_due(app, "zalo", 1)
    async with app.sessions() as session:
        states = dict((await session.execute(
            select(Delivery.chat_id, Delivery.claimed_by).where(
                Delivery.state == OutboxState.SENDING))).all())
    assert states == {telegram[1]: "w1", telegram[5]: "w1", telegram[0]: "w1",
                      telegram[2]: "w2"}


async def test_saving_a_batch_stores_each_rows_payload_and_drops_the_empty(app) -> None:  # type: ignore[no-untyped-def]
    """What the set-based save writes is, row by row, what the payload serialises to; rows
    another sender holds are left alone; an empty digest goes, an empty instant row is closed."""
    app.clock = lambda: T0
    async with app.sessions() as session, session.begin():
        chats = [await add_chat(session, f"s{n}") for n in range(6)]
        await insert_rows(session, [
            {"chat_id": chat, "kind": DeliveryKind.DIGEST if n < 4 else DeliveryKind.INSTANT,
             "lane": 1, "dedup_key": f"s{n}", "due_at": T0,
             "payload": OutboxPayload(mode="daily", hour=7, weekday=0).to_json()}
            for n, chat in enumerate(chats)], T0)
    rows = await outbox.claim(app, "telegram", 1, 10, "w1")
    # Two rows with equal payloads (converted once), one with its own, a report's parts.
    rows[0].payload.items, rows[1].payload.items = (5, 3, 9), (5, 3, 9)
    rows[2].payload.items, rows[2].payload.low = (7, 8), (7,)
    rows[5].payload.parts = [Part("<b>Báo cáo</b>"), Part("biểu đồ", photo=b"\x89PNG")]
    for row in (rows[0], rows[1], rows[2], rows[5]):
        row.payload.checked, row.changed = True, True
        row.parts = list(row.payload.parts or [Part("x")])
    rows[3].parts, rows[4].parts = [], []  # a digest and an instant row with nothing
    async with app.sessions() as session, session.begin():  # another sender took row 1 over
        await session.execute(update(Delivery).where(Delivery.id == rows[1].id)
                              .values(claimed_by="w2"))
    await outbox.save_prepared(app, rows, "w1")
    async with app.sessions() as session:
        stored = {row_id: (state, json.loads(text)) for row_id, state, text in
                  await session.execute(select(Delivery.id, Delivery.state,
                                               json_text(session, Delivery.payload)))}
    untouched = OutboxPayload(mode="daily", hour=7, weekday=0).to_json()
    assert stored == {
        rows[0].id: ("sending", rows[0].payload.to_json()),
        rows[1].id: ("sending", untouched),
        rows[2].id: ("sending", rows[2].payload.to_json()),
        rows[4].id: ("cancelled", untouched),
        rows[5].id: ("sending", rows[5].payload.to_json()),
    }
    assert not any(row.changed for row in rows)


async def test_an_item_two_new_rows_of_a_chat_want_goes_to_the_first(app) -> None:  # type: ignore[no-untyped-def]
    """Instant before digest, then older first; a chat's other rows and other chats keep
    theirs (delivery.contents: what each chat already has is left out)."""
    app.clock = lambda: T0
    async with app.sessions() as session, session.begin():
        a, b, c = [await add_chat(session, key) for key in "abc"]
        rows = [  # (chat, kind, due, items), in id order
            (a, DeliveryKind.DIGEST, T0 - timedelta(minutes=10), [101, 102]),
            (b, DeliveryKind.DIGEST, T0 - timedelta(minutes=5), [103, 104]),
            (a, DeliveryKind.INSTANT, T0, [101]),
            (c, DeliveryKind.INSTANT, T0, [101]),
            (b, DeliveryKind.DIGEST, T0 - timedelta(minutes=10), [103]),
        ]
        await insert_rows(session, [
            {"chat_id": chat, "kind": kind, "lane": 1, "dedup_key": f"r{n}", "due_at": due,
             "payload": OutboxPayload(mode="daily", hour=7, weekday=0,
                                      items=tuple(items)).to_json()}
            for n, (chat, kind, due, items) in enumerate(rows)], T0)
    batch = await outbox.claim(app, "telegram", 1, 10, "w1")
    async with app.sessions() as session:
        await resolve(app, session, batch, {"telegram": 4096})
    got = sorted((r.chat_id, r.kind, r.due_at, r.payload.items) for r in batch)
    assert got == sorted([
        (a, DeliveryKind.DIGEST, T0 - timedelta(minutes=10), (102,)),
        (b, DeliveryKind.DIGEST, T0 - timedelta(minutes=5), (104,)),
        (a, DeliveryKind.INSTANT, T0, (101,)),
        (c, DeliveryKind.INSTANT, T0, (101,)),
        (b, DeliveryKind.DIGEST, T0 - timedelta(minutes=10), (103,)),
    ])
