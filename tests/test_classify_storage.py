"""Labels in the database: saved with their evidence, replaced on re-classification, on both
engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from classify import Classification, get_classifier
from ingest.labels import to_labels
from services.classification import reclassify_all
from storage.labels import save_labels
from storage.models import Item, ItemProvince, ItemTopic, Source


async def add_items(app, rows: list[tuple[str, str]], province: str | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    published = datetime(2026, 3, 1, tzinfo=UTC)
    async with app.sessions() as session, session.begin():
        source = Source(url="https://bao.vn/rss", name="Báo", province=province)
        session.add(source)
        await session.flush()
        items = [Item(source_id=source.id, canonical_url=f"https://bao.vn/{n}", guid=str(n),
                      title=title, summary=summary, published_at=published + timedelta(minutes=n),
                      content_hash=str(n)) for n, (title, summary) in enumerate(rows)]
        session.add_all(items)
        await session.flush()
        return [item.id for item in items]


async def labels(app, item_id: int) -> tuple[list[tuple[str, int]], list[str], list]:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        provinces = (await session.execute(
            select(ItemProvince.province, ItemProvince.rank, ItemProvince.evidence)
            .where(ItemProvince.item_id == item_id).order_by(ItemProvince.rank))).all()
        topics = (await session.execute(
            select(ItemTopic.topic).where(ItemTopic.item_id == item_id))).scalars().all()
    return [(p, r) for p, r, _ in provinces], sorted(topics), [e for *_, e in provinces]


async def test_save_labels_replaces_the_items_labels(app) -> None:  # type: ignore[no-untyped-def]
    [item_id] = await add_items(app, [("x", "")])
    first = get_classifier().classify("Hà Tĩnh: Mưa lũ", "Đoàn cứu trợ từ Nghệ An đã đến.")
    async with app.sessions() as session, session.begin():
        await save_labels(session, item_id, to_labels(first))
    provinces, topics, evidence = await labels(app, item_id)
    assert provinces == [("42", 0), ("40", 1)]
    assert topics == ["thien-tai-cuu-tro"]
    assert evidence[0][0]["resolved"] == '"Hà Tĩnh" → 42 Hà Tĩnh'

    async with app.sessions() as session, session.begin():
        await save_labels(session, item_id, to_labels(Classification(["33"], ["bau-cu"], [])))
    assert (await labels(app, item_id))[:2] == ([("33", 0)], ["bau-cu"])
    async with app.sessions() as session, session.begin():
        await save_labels(session, item_id, to_labels(Classification()))
    assert (await labels(app, item_id))[:2] == ([], [])


async def scores(app, item_id: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        found = dict((await session.execute(select(ItemProvince.province, ItemProvince.score)
                                            .where(ItemProvince.item_id == item_id))).all())
        found.update((await session.execute(select(ItemTopic.topic, ItemTopic.score)
                                            .where(ItemTopic.item_id == item_id))).all())
    return found


async def test_labels_keep_their_scores_and_reclassify_counts_score_changes(app) -> None:  # type: ignore[no-untyped-def]
    [item_id] = await add_items(app, [("Hà Tĩnh: Mưa lũ", "")])
    sure = Classification(["42"], ["thien-tai-cuu-tro"], [], {"42": 0.91})
    async with app.sessions() as session, session.begin():
        first = await save_labels(session, item_id, to_labels(sure))
    assert (first.added, first.removed, first.rescored) == (2, 0, 0)
    assert await scores(app, item_id) == {"42": 0.91, "thien-tai-cuu-tro": 1.0}  # missing: 1.0

    class Unsure:
        def classify(
            self, title: str, summary: str = "", feed: str | None = None
        ) -> Classification:
            return Classification(["42"], ["thien-tai-cuu-tro"], [],
                                  {"42": 0.4, "thien-tai-cuu-tro": 1.0})

    changes = await reclassify_all(app, classifier=Unsure())  # type: ignore[arg-type]
    assert (changes.items, changes.changed_items, changes.added, changes.removed,
            changes.rescored) == (1, 1, 0, 0, 1)
    assert await scores(app, item_id) == {"42": 0.4, "thien-tai-cuu-tro": 1.0}


async def test_reclassify_all_redoes_every_item(app) -> None:  # type: ignore[no-untyped-def]
    ids = await add_items(app, [("Thái Bình: Khánh thành nhà Đại đoàn kết", ""),
                                ("", "Ủy ban MTTQ Việt Nam tỉnh tổ chức hội nghị giao ban."),
                                ("Giá vàng tăng mạnh", "")], province="38")
    async with app.sessions() as session, session.begin():
        await save_labels(session, ids[2], to_labels(Classification(["01"], ["bau-cu"], [])))
    changes = await reclassify_all(app, batch=2)  # two transactions
    # Item 0 gains 33 and its topic; item 1 gains 38 and its topic; item 2 loses 01 and bau-cu.
    assert (changes.items, changes.changed_items) == (3, 3)
    assert (changes.added, changes.removed, changes.rescored) == (4, 2, 0)
    again = await reclassify_all(app)
    assert (again.items, again.changed_items, again.added, again.removed, again.rescored) == \
        (3, 0, 0, 0, 0)
    assert (await labels(app, ids[0]))[:2] == ([("33", 0)], ["nha-dai-doan-ket"])
    assert (await labels(app, ids[1]))[:2] == ([("38", 0)], ["hoi-nghi-giao-ban"])  # feed prior
    assert (await labels(app, ids[2]))[:2] == ([], [])
    async with app.sessions() as session:
        stamped = (await session.execute(select(Item.classified_at))).scalars().all()
    assert len(stamped) == 3 and all(stamped)
