"""The chat services called directly, as the CLI, the console and Zalo call them (both engines)."""

from __future__ import annotations

import asyncio

import pytest

from delivery.chats import mark_chat_inactive
from services import admin, chats, search, subscriptions, users
from services.errors import ServiceError
from services.subscriptions import Cadence
from storage.models import Chat, DeliveredItem, OfficialProvince, Subscription, User
from storage.models import Delivery as Outbox
from tests.conftest import count_rows
from tests.delivery_support import T0, add_item, add_source


async def test_subscriptions_lifecycle(app) -> None:  # type: ignore[no-untyped-def]
    chat = await chats.ensure_chat(app, "zalo", "abc123")
    first = await subscriptions.subscribe(app, chat.id, topics=["bau-cu"], provinces=["33", "01"],
                                          keywords="Xóa  NHÀ tạm", label="bầu cử")
    assert (first.number, first.provinces, first.keywords) == (
        1,
        ("01", "33"),
        "Xóa NHÀ tạm",
    )  # as typed
    with pytest.raises(ServiceError) as dup:
        await subscriptions.subscribe(app, chat.id, topics=["bau-cu"], provinces=["01", "33"],
                                      keywords="xoa nha tam")
    assert dup.value.code == "sub_exists" and dup.value.params["number"] == 1
    with pytest.raises(ServiceError) as bad:
        await subscriptions.subscribe(app, chat.id, provinces=["99"])
    assert bad.value.code == "bad_label"
    second = await subscriptions.subscribe(app, chat.id, topics=["thien-tai-cuu-tro"])
    assert await subscriptions.set_delivery(app, chat.id, Cadence("daily", 18), second.id) == 1
    assert (await subscriptions.find(app, chat.id, number=1)).delivery == Cadence("instant")
    assert await subscriptions.set_delivery(app, chat.id, Cadence("weekly", 6, 6)) == 2
    third = await subscriptions.subscribe(app, chat.id, keywords="bão")
    assert third.delivery == Cadence("weekly", 6, 6)  # the chat's new default
    await subscriptions.set_paused(app, chat.id, first.id, True)
    await subscriptions.unsubscribe(app, chat.id, second.id)
    left = await subscriptions.list_subscriptions(app, chat.id)
    assert [(s.number, s.id, s.paused) for s in left] == [(1, first.id, True), (2, third.id, False)]
    with pytest.raises(ServiceError):
        Cadence("hourly")
    with pytest.raises(ServiceError):
        await subscriptions.find(app, chat.id, sub_id=second.id)


async def test_grant_revoke_and_report_subscriptions(app) -> None:  # type: ignore[no-untyped-def]
    person = (
        await users.grant(app, "cli", "telegram", "77", "official", ["33", "15", "33"])
    ).person
    assert person.role == "official" and person.provinces == ("15", "33")
    person = (
        await users.grant(app, "cli", "telegram", "77", "official", ["01"])
    ).person  # replaces
    assert person.provinces == ("01",)
    chat = await chats.ensure_chat(app, "telegram", "77")
    reports = await subscriptions.list_subscriptions(app, chat.id)
    assert len(reports) == 2 and all(r.kind == "report" and r.provinces == ("01",) for r in reports)
    for bad in (("official", []), ("official", ["77"]), ("king", ["01"])):
        with pytest.raises(ServiceError):
            await users.grant(app, "cli", "telegram", "77", *bad)
    await users.revoke(app, "cli", "telegram", "77")
    assert (await users.find_user(app, "telegram", "77")).role == "citizen"
    assert await count_rows(app, OfficialProvince) == 0 and await count_rows(app, Subscription) == 0


async def test_configured_admins(app) -> None:  # type: ignore[no-untyped-def]
    app.settings.admin_ids.extend(["12345", "zalo:f00d"])
    assert (await users.ensure_user(app, "telegram", "12345")).role == "admin"
    assert (await users.ensure_user(app, "zalo", "f00d")).role == "admin"
    assert (await users.ensure_user(app, "telegram", "f00d")).role == "citizen"
    with pytest.raises(ServiceError) as refused:
        await users.revoke(app, "cli", "telegram", "12345")
    assert refused.value.code == "revoke_configured_admin"


async def test_forget_chat_removes_everything_hanging_off_it(app) -> None:  # type: ignore[no-untyped-def]
    chat = await chats.ensure_chat(app, "telegram", "5")
    person = (await users.grant(app, "cli", "telegram", "5", "official", ["33"])).person
    sub = await subscriptions.subscribe(app, chat.id, keywords="bão")
    async with app.sessions() as session, session.begin():
        item = await add_item(session, await add_source(session), "Bão số 3")
        session.add(DeliveredItem(chat_id=chat.id, item_id=item, subscription_id=sub.id))
        session.add(Outbox(chat_id=chat.id, kind="instant", dedup_key="k1", payload={}, due_at=T0))
    await chats.forget_chat(app, chat.id, person.id)
    for model in (Chat, Subscription, DeliveredItem, Outbox, OfficialProvince):
        assert await count_rows(app, model) == 0, model
    assert await users.find_user(app, "telegram", "5") is None
    again = await chats.ensure_chat(app, "telegram", "5")  # writing again starts afresh
    assert await subscriptions.list_subscriptions(app, again.id) == []


async def test_inactive_chat_is_active_again_when_it_writes(app) -> None:  # type: ignore[no-untyped-def]
    chat = await chats.ensure_chat(app, "telegram", "6")
    await mark_chat_inactive(app, chat.id, "blocked")
    assert (await chats.ensure_chat(app, "telegram", "6")).active


async def test_first_messages_arriving_together_make_one_chat_and_each_person_once(app) -> None:  # type: ignore[no-untyped-def]
    """The router's one transaction for the chat and the sender (users.ensure_sender): a new
    group's first messages, from three people at once and one of them twice."""
    senders = ["7", "8", "9", "7"]
    got = await asyncio.gather(*(users.ensure_sender(app, "telegram", "-100", "group", "Xóm 3",
                                                     key, f"Người {key}") for key in senders))
    assert len({chat.id for chat, _ in got}) == 1 and got[0][0].kind == "group"
    assert {person.user_key: person.id for _, person in got} == {
        person.user_key: person.id for _, person in got[:3]}
    assert await count_rows(app, Chat) == 1
    assert await count_rows(app, User) == 3
    # Known now: the same row again, its title refreshed.
    chat, person = await users.ensure_sender(app, "telegram", "-100", "group", "Xóm 3 mới", "8",
                                             "")
    assert chat.id == got[0][0].id and chat.title == "Xóm 3 mới" and person.id == got[1][1].id


async def test_search_is_the_same_on_both_engines(app) -> None:  # type: ignore[no-untyped-def]
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        disaster = ["thien-tai-cuu-tro"]
        a = await add_item(session, src, "Lũ quét ở Lào Cai", "Nhiều nhà bị cuốn trôi",
                           provinces=["15"], topics=disaster)
        b = await add_item(session, src, "Nhà bị lũ cuốn", "Lũ quét tại Yên Bái cũ",
                           provinces=["15"], topics=disaster)
        c = await add_item(session, src, "Lũ quét: cảnh báo", "", provinces=["20"], topics=disaster)
        await add_item(session, src, "Phim về lũ quét ra rạp", "")  # not about a disaster
    # "lũ quét" is a word for the disaster topic: a filter (services.search).
    found = await search.search(app, "lũ quét nhà")
    assert [i.id for i in found.items] == [b, a] and found.total == 2  # "nhà" in b's title
    found = await search.search(app, "lu quet")
    assert [i.id for i in found.items] == [c, b, a]  # the topic alone: newest first
    found = await search.search(app, "lũ quét lạng sơn")
    assert [i.id for i in found.items] == [c] and found.provinces == ("20",)


async def test_broadcast_is_queued_once_per_chat(app) -> None:  # type: ignore[no-untyped-def]
    for key in ("1", "2"):
        await chats.ensure_chat(app, "telegram", key)
    assert await admin.broadcast_audience(app) == 2
    assert await admin.send_broadcast(app, "cli", "Xin chào", broadcast_id="b1") == 2
    assert await admin.send_broadcast(app, "cli", "Xin chào", broadcast_id="b1") == 0
    assert await count_rows(app, Outbox, Outbox.kind == "broadcast") == 2
    with pytest.raises(ServiceError):
        admin.check_broadcast(" ", None)


@pytest.mark.parametrize("document", [
    b"not xml", b"<rss/>",
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml>&a;</opml>',
])
async def test_bad_opml_is_refused(sqlite_app, document: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServiceError) as refused:
        await admin.import_opml(sqlite_app, document, "cli")
    assert refused.value.code == "bad_opml"
