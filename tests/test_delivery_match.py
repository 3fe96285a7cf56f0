"""Matching: which chats earn which new items (set-wise SQL), each item once per chat."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from delivery.contents import _match_in_python
from delivery.match import by_tag, keyword_keys, matching_pairs, on_new_items
from runtime import App, open_app
from storage.dialect import parse_ids
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


async def test_digests_match_by_the_same_rule_as_the_matching_query(dapp: App) -> None:
    """Digest rows are matched in Python (delivery.contents), instant rows by the SQL query:
    on random subscriptions (provinces, topics, keywords, several per chat) and items (labels
    of mixed confidence), both give every chat the same items, strong and weak alike."""
    rnd = random.Random(14)
    provinces, topics = ["01", "46", "48"], ["nha-dai-doan-ket", "dai-hoi-mttq", "bau-cu"]
    phrases = ["bau cu", "xoa nha tam"]
    async with dapp.sessions() as session, session.begin():
        src = await add_source(session)
        for n in range(40):
            labels_p = rnd.sample(provinces, rnd.choice((0, 1, 1, 2)))
            labels_t = rnd.sample(topics, rnd.choice((0, 1, 2)))
            words = " ".join(rnd.sample(["bầu cử", "xóa nhà tạm", "hội nghị", "xã"], 2))
            await add_item(session, src, f"Tin {n}: {words}", provinces=labels_p,
                           topics=labels_t,
                           scores={label: rnd.choice((0.3, 0.9))
                                   for label in labels_p + labels_t})
        for n in range(60):
            chat = await add_chat(session, 500 + n, channel="memory")
            for _ in range(rnd.choice((1, 1, 2))):
                await add_sub(session, chat, provinces=rnd.sample(provinces, rnd.choice((0, 1, 2))),
                              topics=rnd.sample(topics, rnd.choice((0, 1, 2))),
                              keywords=rnd.choice(("", "", *phrases)))
    async with dapp.sessions() as session:
        subs = (select(Subscription.id.label("sid"), Subscription.chat_id.label("tag"),
                       Subscription.keywords.label("keywords"))
                .cte("cand_subs").prefix_with("MATERIALIZED"))
        items = select(Item.id.label("iid")).cte("cand_items").prefix_with("MATERIALIZED")
        keys = await keyword_keys(session, select(items.c.iid).subquery(),
                                  select(subs.c.keywords).subquery())
        assert keys  # the keyword rule is exercised
        in_sql = {tag: (set(parse_ids(ids)), set(parse_ids(weak)))
                  for tag, ids, _, weak in await session.execute(by_tag(
                      session, matching_pairs(session, subs, items, keys, 0.75)
                      .subquery("pairs")))}
        in_python = {tag: (set(found), set(weak)) for tag, (found, weak) in
                     (await _match_in_python(session, subs, items, keys, 0.75)).items()}
    assert in_python == in_sql
    assert any(weak for _, weak in in_sql.values()) and len(in_sql) > 30
