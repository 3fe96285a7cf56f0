"""Synthetic subscribers and items for bench/delivery.py (no real news text is used).

The shapes follow onboarding: almost everyone picks a province or two, most pick topics too, a
few add keywords; modes are mostly digests. Items carry labels at the rates of the labelled news
in ../shared/eval.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import insert

import catalog
from runtime import App
from storage.models import (
    Chat,
    Item,
    ItemProvince,
    ItemTopic,
    Source,
    Subscription,
    SubscriptionProvince,
    SubscriptionTopic,
)
from vntext import fold

KEYWORDS = ["xoa nha tam", "nha dai doan ket", "bau cu", "chuyen doi so"]
WORDS = ["hội nghị", "nhân dân", "xã", "phường", "Mặt trận", "đoàn kết", "an sinh", "hỗ trợ",
         "bầu cử", "chuyển đổi số", "xóa nhà tạm", "nhà Đại đoàn kết", "giám sát", "cứu trợ"]
CHUNK = 20_000


async def _insert(app: App, model: type, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with app.sessions() as session, session.begin():
            await session.execute(insert(model), rows[start:start + CHUNK])


async def add_subscribers(app: App, count: int, *, created: datetime, seed: int = 1,
                          mix: tuple[float, float] = (0.3, 0.9), hour: int = 7,
                          weekday: int = 0, first_id: int = 1, channel: str = "telegram",
                          key_base: int = 10_000_000) -> None:
    """`count` private chats with one subscription each. `mix`: cumulative shares of instant
    and daily (the rest weekly)."""
    rnd = random.Random(seed)
    provinces, topics = list(catalog.provinces()), list(catalog.topics())
    chats, subs, sub_topics, sub_provinces = [], [], [], []
    for n in range(first_id, first_id + count):
        chats.append({"id": n, "channel": channel, "chat_key": str(key_base + n),
                      "kind": "private", "created_at": created})
        r = rnd.random()
        mode = "instant" if r < mix[0] else "daily" if r < mix[1] else "weekly"
        keywords = rnd.choice(KEYWORDS) if rnd.random() < 0.05 else ""
        subs.append({"id": n, "chat_id": n, "mode": mode, "hour": hour, "weekday": weekday,
                     "keywords": keywords, "created_at": created})
        # 95% follow a province or two; the others follow topics (or only keywords).
        national = rnd.random() < 0.05
        if not national:
            for code in rnd.sample(provinces, rnd.choice((1, 1, 1, 2))):
                sub_provinces.append({"subscription_id": n, "province": code})
        if (national and not keywords) or rnd.random() < 0.6:
            for slug in rnd.sample(topics, rnd.choice((1, 2, 3))):
                sub_topics.append({"subscription_id": n, "topic": slug})
    await _insert(app, Chat, chats)
    await _insert(app, Subscription, subs)
    await _insert(app, SubscriptionTopic, sub_topics)
    await _insert(app, SubscriptionProvince, sub_provinces)


async def add_items(app: App, count: int, *, fetched: datetime, seed: int = 2,
                    spread: timedelta = timedelta(hours=1), matched: bool = False) -> list[int]:
    """`count` labelled items fetched within `spread` before `fetched`, matched as they came
    in when `spread` reaches further back than a digest (or `matched`); returns their ids.
    Built and stored CHUNK at a time, so a million items never sit in memory at once."""
    rnd = random.Random(seed)
    provinces, topics = list(catalog.provinces()), list(catalog.topics())
    async with app.sessions() as session, session.begin():
        source = Source(url=f"https://bench{seed}.example.vn/rss", name="Báo Thử Nghiệm")
        session.add(source)
        await session.flush()
        source_id = source.id
    span = int(spread.total_seconds())
    history = matched or spread > timedelta(days=1)
    ids: list[int] = []
    for start in range(0, count, CHUNK):
        items, labels_p, labels_t = [], [], []
        for n in range(start, min(start + CHUNK, count)):
            title = f"Tin {n}: {' '.join(rnd.sample(WORDS, 4))} & \"tiêu đề\" <thử>"
            summary = " ".join(rnd.choice(WORDS) for _ in range(30))
            at = fetched - timedelta(seconds=rnd.randrange(1, span))
            items.append({"source_id": source_id,
                          "canonical_url": f"https://bench.example.vn/{seed}/{n}",
                          "guid": f"{seed}-{n}", "title": title, "summary": summary,
                          "published_at": at, "fetched_at": at, "content_hash": f"{seed}-{n}",
                          "title_fold": fold(title), "search_text": fold(f"{title} {summary}"),
                          "matched_at": at if history else None})
        async with app.sessions() as session, session.begin():
            chunk_ids = (await session.scalars(insert(Item).returning(Item.id), items)).all()
        # Label rates of the labelled news in ../shared/eval (national and local outlets
        # together): about 70% of items name a province (almost always one), about half carry a
        # topic.
        for item_id in chunk_ids:
            if rnd.random() < 0.7:
                for rank, code in enumerate(rnd.sample(provinces,
                                                       1 if rnd.random() < 0.9 else 2)):
                    labels_p.append(
                        {"item_id": item_id, "province": code, "rank": rank, "evidence": []}
                    )
            if rnd.random() < 0.5:
                for slug in rnd.sample(topics, 1 if rnd.random() < 0.9 else 2):
                    labels_t.append({"item_id": item_id, "topic": slug, "evidence": []})
        await _insert(app, ItemProvince, labels_p)
        await _insert(app, ItemTopic, labels_t)
        ids.extend(chunk_ids)
    return ids
