"""The outbox's claim and save steps (delivery.outbox), on both engines."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from delivery import outbox
from model.enums import DeliveryKind, OutboxState
from model.outbox import OutboxPayload
from storage.dialect import insert_rows
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
    first = await outbox.claim(app, "telegram", 1, 3, "w1")
    # Oldest due first, then by id; the rest of the lane's due rows in the next claim.
    assert [r.chat_id for r in first] == [telegram[1], telegram[5], telegram[0]]
    assert [r.chat_id for r in await outbox.claim(app, "telegram", 1, 3, "w2")] == [telegram[2]]
    assert await outbox.claim(app, "telegram", 1, 3, "w2") == []
    async with app.sessions() as session:
        states = dict((await session.execute(
            select(Delivery.chat_id, Delivery.claimed_by).where(
                Delivery.state == OutboxState.SENDING))).all())
    assert states == {telegram[1]: "w1", telegram[5]: "w1", telegram[0]: "w1",
                      telegram[2]: "w2"}
