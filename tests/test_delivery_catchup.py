"""An item stored but never matched (the process died in between) is matched at the next start,
once; backlog and republished copies are not."""

from sqlalchemy import func, select

from delivery.match import match_unmatched, on_new_items
from storage.models import Delivery, Item
from tests.delivery_support import add_chat, add_item, add_source, add_sub


async def test_unmatched_items_are_matched_once_at_start(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        chat = await add_chat(session, 42)
        await add_sub(session, chat, provinces=["91"])
        lost = await add_item(session, src, "Bàn giao nhà ở An Giang", provinces=["91"])
        seen = await add_item(session, src, "Tin đã ghép ở An Giang", provinces=["91"])
        await add_item(session, src, "Tin cũ ở An Giang", provinces=["91"], backlog=True)
        await add_item(session, src, "Bản đăng lại", provinces=["91"], duplicate_of=lost)
    await on_new_items(app, [seen])  # matched before the "crash"; `lost` never was

    assert await match_unmatched(app) == 1
    assert await match_unmatched(app) == 0
    async with app.sessions() as session:
        rows = list(await session.scalars(select(Delivery)))
        unmatched = await session.scalar(
            select(func.count()).select_from(Item).where(Item.matched_at.is_(None)))
    assert len(rows) == 2  # one instant row for `seen`, one for `lost`: no repeats
    assert unmatched == 2  # the backlog item and the copy are never matched
