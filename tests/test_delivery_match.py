"""Matching: which chats earn which new items (one rule, set-wise), each item once per chat."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from delivery.match import match, on_new_items, read_candidates, read_subscriptions
from runtime import App, open_app
from storage.models import Delivery, Item, Subscription
from tests.delivery_support import (
    MemoryChannel,
    add_chat,
    add_item,
    add_source,
    add_sub,
    delivery_settings,
    given,
    run_until_idle,
)
from vntext import fold, fold_tokens


@pytest.fixture
async def dapp(db_url: str) -> AsyncIterator[App]:
    app = open_app(delivery_settings(db_url))
    app.channels = {"memory": MemoryChannel()}
    yield app
    await app.close()


def _of(pairs: set[tuple[int, int]], chat: int) -> set[int]:
    return {item for c, item in pairs if c == chat}


async def test_topics_any_provinces_any_keywords_all(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        ddk_ag = await add_item(session, src, "Bàn giao nhà Đại đoàn kết ở An Giang",
                                provinces=["91"], topics=["nha-dai-doan-ket"])
        ddk_hy = await add_item(session, src, "Nhà Đại đoàn kết cho hộ nghèo Hưng Yên",
                                provinces=["33"], topics=["nha-dai-doan-ket", "giam-ngheo-an-sinh"])
        flood = await add_item(session, src, "Cứu trợ vùng lũ", "Xóa nhà tạm sau lũ",
                               provinces=["91", "92"], topics=["thien-tai-cuu-tro"])
        national = await add_item(session, src, "Hội nghị toàn quốc về xóa nhà tạm, nhà dột nát",
                                  topics=["giam-ngheo-an-sinh"])
        partial = await add_item(session, src, "Nhà tạm ở vùng cao", provinces=["15"])
        near = await add_item(session, src, "Thăm hỏi nhân dân xã Tam Hòa", provinces=["15"])
        a = await add_chat(session, 101, channel="memory")  # topic AND province
        await add_sub(session, a, topics=["nha-dai-doan-ket"], provinces=["91"])
        b = await add_chat(session, 102, channel="memory")  # any of two provinces
        await add_sub(session, b, provinces=["91", "33"])
        c = await add_chat(session, 103, channel="memory")  # every word, any order, no marks
        await add_sub(session, c, keywords="nha tam xoa")
        d = await add_chat(session, 104, channel="memory")  # everything
        await add_sub(session, d)
        e = await add_chat(session, 105, channel="memory")  # any of two topics
        await add_sub(session, e, topics=["thien-tai-cuu-tro", "giam-ngheo-an-sinh"])
        f = await add_chat(session, 106, channel="memory")  # topic AND keyword
        await add_sub(session, f, topics=["giam-ngheo-an-sinh"], keywords="nha tam")
        g = await add_chat(session, 107, channel="memory")  # whole words: "tam" is not "tam hoa"
        await add_sub(session, g, provinces=["15"], keywords="nha tam")
    items = [ddk_ag, ddk_hy, flood, national, partial, near]
    await on_new_items(dapp, items)
    await run_until_idle(dapp)
    got = await given(dapp)
    assert _of(got, a) == {ddk_ag}
    assert _of(got, b) == {ddk_ag, ddk_hy, flood}
    assert _of(got, c) == {flood, national}
    assert _of(got, d) == set(items)
    assert _of(got, e) == {ddk_hy, flood, national}
    assert _of(got, f) == {national}
    assert _of(got, g) == {partial}


async def test_each_item_once_per_chat_whatever_matches(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Đại hội MTTQ tỉnh Lào Cai",
                              provinces=["15"], topics=["dai-hoi-mttq"])
        chat = await add_chat(session, 201, channel="memory")
        await add_sub(session, chat, provinces=["15"])
        await add_sub(session, chat, topics=["dai-hoi-mttq"])
        await add_sub(session, chat, keywords="lao cai")
    await on_new_items(dapp, [item])
    await on_new_items(dapp, [item])  # the poller repeating itself: matched already, no row
    await run_until_idle(dapp)
    channel = dapp.channels["memory"]
    assert len(channel.texts_for(201)) == 1
    assert await given(dapp) == {(chat, item)}
    async with dapp.sessions() as session:
        states = (await session.scalars(select(Delivery.state).order_by(Delivery.id))).all()
    assert states == ["sent"]


async def test_paused_off_inactive_backlog_duplicate_report_never(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Giám sát phản biện ở Huế", provinces=["46"])
        old = await add_item(session, src, "Tin cũ ở Huế", provinces=["46"], backlog=True)
        copy = await add_item(session, src, "Giám sát phản biện ở Huế (bản đăng lại)",
                              provinces=["46"], duplicate_of=item)
        chats = {}
        for key, kw in [(301, {"paused": True}), (302, {"mode": "off"}),
                        (304, {"kind": "report", "mode": "daily"}), (305, {})]:
            chats[key] = await add_chat(session, key, channel="memory")
            await add_sub(session, chats[key], provinces=["46"], **kw)
        chats[303] = await add_chat(session, 303, channel="memory", active=False)
        await add_sub(session, chats[303], provinces=["46"])
    await on_new_items(dapp, [item, old, copy])
    await run_until_idle(dapp)
    assert await given(dapp) == {(chats[305], item)}
    assert [k for k, _ in dapp.channels["memory"].sent] == ["305"]


async def test_several_items_together_make_one_batch(dapp: App) -> None:
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        items = [await add_item(session, src, f"Tin số {n} ở Cà Mau", provinces=["96"])
                 for n in range(3)]
        one = await add_item(session, src, "Chỉ một tin ở Huế", provinces=["46"])
        cm = await add_chat(session, 401, channel="memory")
        await add_sub(session, cm, provinces=["96"])
        hue = await add_chat(session, 402, channel="memory")
        await add_sub(session, hue, provinces=["46"])
        digest = await add_chat(session, 403, channel="memory")
        await add_sub(session, digest, provinces=["96"], mode="daily")
    await on_new_items(dapp, items + [one])
    await run_until_idle(dapp)
    channel = dapp.channels["memory"]
    [batch] = channel.texts_for(401)
    assert batch.startswith("🔔 <b>3 tin mới</b>")
    assert all(f"Tin số {n} ở Cà Mau" in batch for n in range(3))
    [single] = channel.texts_for(402)
    assert single.startswith("<b><a href=") and "Chỉ một tin ở Huế" in single
    assert channel.texts_for(403) == []  # a digest subscriber waits for the digest


async def test_the_log_counts_the_rows_queued(dapp: App, caplog: pytest.LogCaptureFixture) -> None:
    """The count comes from the rows inserted, on both engines (SQLite reports no rowcount for
    an INSERT that starts with WITH)."""
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Lũ ở Lào Cai", provinces=["15"])
        for key in (301, 302):
            await add_sub(session, await add_chat(session, key, channel="memory"),
                          provinces=["15"])
    with caplog.at_level(logging.INFO, logger="delivery.match"):
        await on_new_items(dapp, [item])
        await on_new_items(dapp, [item])  # matched already (claimed): nothing queued, no line
    assert [r.getMessage() for r in caplog.records if r.name == "delivery.match"] == [
        "1 new items: instant messages queued for 2 chats, weaker matches held for 0",
    ]


def _by_the_rule(subs: list[tuple[int, set[str], set[str], str]],
                 items: list[tuple[int, dict[str, float], dict[str, float], str]],
                 min_score: float) -> dict[int, tuple[set[int], set[int]]]:
    """The matching rule written pair by pair, as the spec says it: chat → (items, weak ones).
    `subs`: (chat, provinces, topics, keywords); `items`: (id, province scores, topic scores,
    folded text)."""
    found: dict[int, tuple[set[int], set[int]]] = {}
    strong_of: dict[int, set[int]] = {}
    for chat, provinces, topics, keywords in subs:
        for item, item_p, item_t, text in items:
            p_scores = [item_p[p] for p in provinces if p in item_p]
            t_scores = [item_t[t] for t in topics if t in item_t]
            words = set(fold_tokens(keywords))
            if (provinces and not p_scores) or (topics and not t_scores) or (
                    keywords and not (words and words <= set(fold_tokens(text)))):
                continue
            # Strong when the labels that decided it (its best ones) all score high enough.
            deciding = ([max(p_scores)] if provinces else []) + ([max(t_scores)] if topics else [])
            found.setdefault(chat, (set(), set()))[0].add(item)
            if all(score >= min_score for score in deciding):
                strong_of.setdefault(chat, set()).add(item)
    for chat, (ids, weak) in found.items():
        weak.update(ids - strong_of.get(chat, set()))
    return found


async def test_matching_follows_the_rule_pair_by_pair(dapp: App) -> None:
    """Instant rows and digests are matched by `delivery.match.match`, set-wise, once per
    distinct subscription: on random subscriptions (provinces, topics, keywords, several per
    chat) and items (labels of mixed confidence), it gives every chat the items, strong and weak
    alike, that the rule written pair by pair gives."""
    rnd = random.Random(14)
    provinces, topics = ["01", "46", "48"], ["nha-dai-doan-ket", "dai-hoi-mttq", "bau-cu"]
    phrases = ["bau cu", "xoa nha tam", "bầu cử hội nghị", "!!"]
    items, subs = [], []
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        for n in range(40):
            labels_p = rnd.sample(provinces, rnd.choice((0, 1, 1, 2)))
            labels_t = rnd.sample(topics, rnd.choice((0, 1, 2)))
            words = " ".join(rnd.sample(["bầu cử", "xóa nhà tạm", "hội nghị", "xã"], 2))
            scores = {label: rnd.choice((0.3, 0.75, 0.9)) for label in labels_p + labels_t}
            title = f"Tin {n}: {words}"
            item = await add_item(session, src, title, provinces=labels_p, topics=labels_t,
                                  scores=scores)
            items.append((item, {p: scores[p] for p in labels_p},
                          {t: scores[t] for t in labels_t}, fold(title)))
        for n in range(60):
            chat = await add_chat(session, 500 + n, channel="memory")
            for _ in range(rnd.choice((1, 1, 2))):
                sub_p = rnd.sample(provinces, rnd.choice((0, 1, 2)))
                sub_t = rnd.sample(topics, rnd.choice((0, 1, 2)))
                keywords = rnd.choice(("", "", *phrases))
                await add_sub(session, chat, provinces=sub_p, topics=sub_t, keywords=keywords)
                subs.append((chat, set(sub_p), set(sub_t), keywords))
    async with dapp.sessions() as session:
        found = match(
            await read_subscriptions(session, select(
                Subscription.id.label("sid"), Subscription.chat_id.label("tag"),
                Subscription.keywords)),
            await read_candidates(session, select(Item.id.label("iid")), 0.75, words=True))
    expected = _by_the_rule(subs, items, 0.75)
    assert {chat: (set(ids), set(weak)) for chat, (ids, weak) in found.items()} == expected
    assert any(weak for _, weak in expected.values()) and len(expected) > 30
    assert any(keywords for _, _, _, keywords in subs if keywords in ("bau cu", "xoa nha tam"))
