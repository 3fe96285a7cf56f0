"""Citizens through `dispatch`: onboarding by buttons and by typing, /sub, /list, /unsub, /digest,
/why, /lang and /stop, in private chats and groups."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from services import chats, subscriptions
from services.subscriptions import Cadence
from storage.models import Chat, DeliveredItem, ItemProvince, ItemTopic, Subscription, User
from tests.chat_support import Person
from tests.delivery_support import add_item, add_source


async def _subs(app, person: Person):  # type: ignore[no-untyped-def]
    chat = await chats.ensure_chat(app, person.channel, person.chat, person.kind)
    return await subscriptions.list_subscriptions(app, chat.id)


async def test_onboarding_with_buttons(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    await citizen.say("/start")
    assert "Chào bạn" in citizen.text and "Bước 1/3" in citizen.text
    await citizen.tap("Trang 2/3")
    await citizen.tap("Hưng Yên")
    assert "✓ Hưng Yên" in [label for label, _ in citizen.buttons()]
    assert citizen.last.messages[0].edit_message_id  # the keyboard is updated in place
    # A former name typed instead of tapped: Thái Bình is part of Hưng Yên now; Yên Bái of Lào Cai.
    await citizen.say("Yên Bái")
    assert "Lào Cai" in citizen.text and "Bước 1/3" in citizen.text
    await citizen.tap("Tiếp")
    assert "Bước 2/3" in citizen.text
    await citizen.tap("Nhà Đại đoàn kết")
    await citizen.tap("Thiên tai")
    await citizen.tap("Thiên tai")  # a second tap takes it away again
    await citizen.tap("Tiếp")
    assert "Bước 3/3" in citizen.text
    await citizen.tap("Hằng tuần")
    await citizen.tap("Thứ 6")
    await citizen.tap("19:00")
    assert "Xong" in citizen.text and "thứ Sáu hằng tuần lúc 19:00" in citizen.text
    [sub] = await _subs(app, citizen)
    assert sub.provinces == ("15", "33") and sub.topics == ("nha-dai-doan-ket",)
    assert sub.delivery == Cadence("weekly", 19, 4)
    # The choice is also the default for later subscriptions.
    await citizen.say("/sub bầu cử")
    assert "thứ Sáu hằng tuần lúc 19:00" in citizen.text


@pytest.mark.parametrize("channel", ["zalo", "console"])
async def test_onboarding_typed(sqlite_app, channel: str) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app, "u1", channel=channel)
    await citizen.say("/start")
    assert not citizen.buttons()
    assert "33 Hưng Yên" in citizen.text and "Gõ mã số hoặc tên tỉnh" in citizen.text
    await citizen.say("Thai Binh, 01")  # no diacritics, a former name and a code
    assert "Hưng Yên" in citizen.text and "Bước 2/3" in citizen.text
    assert "1. Nhà Đại đoàn kết" in citizen.text
    await citizen.say("1, 9")
    assert "Bước 3/3" in citizen.text
    await citizen.say("hằng ngày 6")
    [sub] = await _subs(sqlite_app, citizen)
    assert sub.provinces == ("01", "33") and sub.topics == ("nha-dai-doan-ket", "bau-cu")
    assert sub.delivery == Cadence("daily", 6, 0)


async def test_onboarding_typed_all_and_not_understood(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app, "u2", channel="zalo")
    await citizen.say("/start")
    await citizen.say("xyzzy")
    assert "chưa hiểu" in citizen.text and "Bước 1/3" in citizen.text
    await citizen.say("tất cả")
    await citizen.say("tat ca")
    await citizen.say("banana")
    assert "chưa hiểu" in citizen.text
    await citizen.say("ngay")
    assert "mọi tin" in citizen.text and "khá nhiều" in citizen.text  # a warning, not a refusal
    [sub] = await _subs(sqlite_app, citizen)
    assert sub.is_everything and sub.delivery.mode == "instant"


async def test_deep_links_preselect(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say("/start p33")
    assert "✓ Hưng Yên" in [label for label, _ in citizen.buttons()]
    await citizen.say("/start t-nha-dai-doan-ket")
    await citizen.tap("Tiếp")
    assert any(label.startswith("✓ Nhà Đại đoàn kết") for label, _ in citizen.buttons())
    await citizen.say("/start nonsense")  # an unknown payload is just a plain start
    assert "Bước 1/3" in citizen.text


async def test_buttons_of_an_old_dialogue_are_stale(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say("/start")
    old = citizen.button("Hà Nội")
    await citizen.say("/start")
    current_next, current_province = citizen.button("Tiếp"), citizen.button("Hà Nội")
    await citizen.press(old)
    assert citizen.last.button_answer and "cũ" in citizen.last.button_answer
    assert not citizen.last.messages
    await citizen.press(current_next)
    assert "Bước 2/3" in citizen.text
    await citizen.press(current_province)  # a step's button after that step is over
    assert "cũ" in (citizen.last.button_answer or "")


@pytest.mark.parametrize("data", ["zz:1", "ls:rm:abc", "pk:ab:p:01", "ls:rm:1:2", "", "x" * 65,
                                  "dl:all:hourly:7:-", "lg:fr", "cf:abcd:maybe"])
async def test_forged_buttons_get_a_polite_answer(sqlite_app, data: str) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.press(data)
    assert citizen.last.button_answer == "Nút này không hợp lệ."
    assert not citizen.last.messages


async def test_a_button_cannot_touch_another_chats_subscription(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    alice, mallory = Person(sqlite_app, "1"), Person(sqlite_app, "2")
    await alice.say("/sub bầu cử Hà Nội")
    [sub] = await _subs(sqlite_app, alice)
    for data in (f"ls:rm:{sub.id}", f"ls:pa:{sub.id}", f"sf:{sub.id}:rm", f"dl:{sub.id}:off:-:-"):
        await mallory.press(data)
        assert "Không có đăng ký này" in (mallory.last.button_answer or "")
    assert await _subs(sqlite_app, alice) == [sub]


@pytest.mark.parametrize("phrase, topics, provinces, keywords", [
    ("nhà đại đoàn kết an giang", ("nha-dai-doan-ket",), ("91",), ""),
    ("nha dai doan ket AN GIANG", ("nha-dai-doan-ket",), ("91",), ""),
    ("Thái Bình", (), ("33",), ""),
    ("bầu cử lào cai hà nội", ("bau-cu",), ("01", "15"), ""),
    ("cầu Phong Châu", (), (), "cầu Phong Châu"),  # keywords keep the user's spelling
    ("lũ lụt", ("thien-tai-cuu-tro",), (), ""),  # a common word for a topic
    ("lu lut", ("thien-tai-cuu-tro",), (), ""),
    ("bão Tây Nguyên", ("thien-tai-cuu-tro",), ("51", "52", "66", "68"), ""),
    ("tai nạn giao thông ở Hà Nội", (), ("01",), "tai nạn giao thông"),
])
async def test_sub_reads_topics_provinces_and_keywords(sqlite_app, phrase, topics, provinces,
                                                       keywords) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say(f"/sub {phrase}")
    assert "Đã đăng ký (số 1)" in citizen.text
    [sub] = await _subs(sqlite_app, citizen)
    assert (sub.topics, sub.provinces, sub.keywords) == (topics, provinces, keywords)
    assert sub.label == phrase
    if phrase == "Thái Bình":  # a former province: the reply says what it became
        assert "“Thái Bình” → Hưng Yên" in citizen.text
    labels = {label for label, _ in citizen.buttons()}
    assert {"📍 Sửa tỉnh", "🏷 Sửa chủ đề", "🗑 Hủy đăng ký"} <= labels


async def test_sub_keywords_and_usage(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    await citizen.say("/sub xóa nhà tạm")
    [sub] = await _subs(app, citizen)
    assert (sub.keywords, sub.topics, sub.provinces) == ("xóa nhà tạm", (), ())
    assert "từ khóa “xóa nhà tạm”" in citizen.text  # shown with its marks
    for bad in ("/sub", "/sub   ", "/sub !!! ???"):
        await citizen.say(bad)
        assert citizen.text.startswith("Cách dùng: /sub")
    await citizen.say("/sub xoa nha tam")  # the same words, matched folded
    assert "đã có đăng ký này" in citizen.text
    assert len(await _subs(app, citizen)) == 1


async def test_sub_regions_expand_to_current_provinces_and_say_so(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    await citizen.say("/sub sạt lở miền Trung")
    [sub] = await _subs(app, citizen)
    assert sub.topics == ("thien-tai-cuu-tro",)
    assert sub.provinces == ("38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68")
    assert sub.keywords == ""
    assert "🗺 “miền Trung” gồm 11 tỉnh, thành hiện nay: Thanh Hóa, Nghệ An" in citizen.text
    await citizen.say("/sub mien nam")
    assert "🗺 “mien nam” gồm 8 tỉnh, thành hiện nay:" in citizen.text
    await citizen.say("/edit 2 đồng bằng sông cửu long")
    assert "🗺 “đồng bằng sông cửu long” gồm 6 tỉnh, thành hiện nay:" in citizen.text
    assert (await _subs(app, citizen))[1].provinces == ("80", "82", "86", "91", "92", "96")


async def test_sub_fix_buttons(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say("/sub bầu cử an giang cầu tre")
    await citizen.tap("Sửa tỉnh")
    await citizen.tap("An Giang")  # off; the keyboard opened on An Giang's page
    await citizen.tap("Cần Thơ")  # on
    await citizen.tap("Tiếp")
    assert "Đã sửa đăng ký số 1" in citizen.text and "Cần Thơ" in citizen.text
    await citizen.say("/list")
    await citizen.say("/sub thiên tai")
    await citizen.tap("Sửa chủ đề")
    await citizen.tap("Mọi chủ đề")
    first, second = await _subs(sqlite_app, citizen)
    assert first.provinces == ("92",) and first.topics == ("bau-cu",)
    assert second.is_everything
    await citizen.say("/sub bầu cử an giang cầu tre")
    await citizen.tap("Bỏ từ khóa")
    assert (await _subs(sqlite_app, citizen))[2].keywords == ""
    await citizen.tap("Hủy đăng ký")
    assert len(await _subs(sqlite_app, citizen)) == 2
    await citizen.say("/edit 2 bầu cử đà nẵng")  # the typed fix
    assert (await _subs(sqlite_app, citizen))[1].provinces == ("48",)
    await citizen.say("/edit 9 bầu cử")
    assert "Không có đăng ký này" in citizen.text
    await citizen.say("/edit hai")
    assert citizen.text.startswith("Cách dùng: /edit")


async def test_list_buttons_pause_delivery_remove(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    await citizen.say("/list")
    assert "chưa có đăng ký" in citizen.text
    await citizen.say("/sub bầu cử")
    await citizen.say("/sub thiên tai huế")
    await citizen.say("/list")
    assert "1.</b>" in citizen.text and "2.</b>" in citizen.text
    await citizen.tap("Dừng 1")
    assert citizen.last.button_answer == "⏸ Đã tạm dừng đăng ký số 1."
    assert "đang tạm dừng" in citizen.text and citizen.button("Chạy 1")
    await citizen.tap("Chạy 1")
    assert "đang tạm dừng" not in citizen.text
    await citizen.tap("Cách nhận 2")
    await citizen.tap("Hằng ngày")
    await citizen.tap("20:00")
    assert "Đăng ký số 2: bản tin hằng ngày lúc 20:00" in citizen.text
    await citizen.say("/list")
    await citizen.tap("Xóa 1")
    [left] = await _subs(app, citizen)
    assert left.topics == ("thien-tai-cuu-tro",) and left.delivery == Cadence("daily", 20, 0)
    assert left.number == 1  # numbers follow the list


async def test_typed_list_actions(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app, channel="zalo")
    await citizen.say("/sub bầu cử")
    await citizen.say("/sub thiên tai")
    await citizen.say("/list")
    assert "/pause 1" in citizen.text and not citizen.buttons()
    await citizen.say("/pause 2")
    assert (await _subs(sqlite_app, citizen))[1].paused
    await citizen.say("/resume 2")
    assert not (await _subs(sqlite_app, citizen))[1].paused
    await citizen.say("/pause")
    assert citizen.text.startswith("Cách dùng: /pause")
    await citizen.say("/unsub 5")
    assert "Không có đăng ký này" in citizen.text
    await citizen.say("/unsub 1")
    assert "Đã hủy đăng ký số 1" in citizen.text
    await citizen.say("/unsub")  # no number: the list, to pick from
    assert "1.</b>" in citizen.text
    await citizen.say("/unsub tất cả")
    assert await _subs(sqlite_app, citizen) == []


@pytest.mark.parametrize("typed, expected", [
    ("instant", Cadence("instant")), ("ngay", Cadence("instant")),
    ("daily 7", Cadence("daily", 7)), ("hangngay 7", Cadence("daily", 7)),
    ("hằng ngày 19h", Cadence("daily", 19)), ("daily", Cadence("daily", 7)),
    ("weekly mon 7", Cadence("weekly", 7, 0)), ("hangtuan thu2 7", Cadence("weekly", 7, 0)),
    ("hàng tuần chủ nhật 20:00", Cadence("weekly", 20, 6)),
    ("weekly fri 18", Cadence("weekly", 18, 4)),
    ("off", Cadence("off")), ("tat", Cadence("off")), ("Tắt", Cadence("off")),
])
async def test_digest_forms(sqlite_app, typed: str, expected: Cadence) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say("/sub bầu cử")
    await citizen.say(f"/digest {typed}")
    assert "Từ nay bạn nhận tin" in citizen.text
    [sub] = await _subs(sqlite_app, citizen)
    assert sub.delivery == expected
    await citizen.say("/sub thiên tai")  # the default for new subscriptions changed too
    assert (await _subs(sqlite_app, citizen))[1].delivery == expected


async def test_digest_one_subscription_buttons_and_errors(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    await citizen.say("/sub bầu cử")
    await citizen.say("/sub thiên tai")
    await citizen.say("/digest 2 hangtuan thu 3 8")
    first, second = await _subs(app, citizen)
    assert first.delivery == Cadence("instant") and second.delivery == Cadence("weekly", 8, 1)
    await citizen.say("/digest")
    assert "mọi đăng ký" in citizen.text and "/digest hangngay 7" in citizen.text
    await citizen.tap("Tắt")
    assert all(s.delivery.mode == "off" for s in await _subs(app, citizen))
    await citizen.say("/digest daily 25")
    assert "Giờ phải từ 0 đến 23" in citizen.text
    await citizen.say("/digest sometimes")
    assert citizen.text.startswith("Cách dùng: /digest")
    await citizen.say("/digest 7 daily 7")
    assert "Không có đăng ký này" in citizen.text


async def test_why_shows_labels_evidence_and_subscription(app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(app)
    await citizen.say("/sub nhà đại đoàn kết hưng yên")
    [sub] = await _subs(app, citizen)
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        item = await add_item(session, src, "Bàn giao nhà <Đại đoàn kết> ở Vũ Thư",
                              provinces=["33"], topics=["nha-dai-doan-ket"])
        province = await session.get(ItemProvince, (item, "33"))
        province.evidence = [
            {"text": "huyện Vũ Thư", "resolved": '"huyện Vũ Thư" → former Thái Bình → 33 Hưng Yên',
             "label": "33", "kind": "district"}]
        province.score = 0.5
        (await session.get(ItemTopic, (item, "nha-dai-doan-ket"))).evidence = [
            {"text": "nhà Đại đoàn kết"}]
    await citizen.say(f"/why {item}")
    assert "former Thái Bình → 33 Hưng Yên" in citizen.text
    assert "“nhà Đại đoàn kết”" in citizen.text
    assert "(độ tin cậy 50%, thấp: chỉ đưa vào bản tin, không báo ngay)" in citizen.text
    assert "(độ tin cậy 100%)" in citizen.text  # the topic: no score stored means sure
    assert "&lt;Đại đoàn kết&gt;" in citizen.text  # titles are escaped
    assert "Khớp với đăng ký của bạn: 1." in citizen.text
    chat = await chats.ensure_chat(app, "telegram", "100")
    async with app.sessions() as session, session.begin():
        session.add(DeliveredItem(chat_id=chat.id, item_id=item, subscription_id=sub.id))
    await citizen.say(f"/why_{item}")  # the tappable form
    assert "Gửi cho bạn theo đăng ký số 1" in citizen.text
    await citizen.say("/why 999999")
    assert "Không có tin số 999999" in citizen.text
    await citizen.say("/why abc")
    assert citizen.text.startswith("Cách dùng: /why")


async def _count(app, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_stop_deletes_everything_after_confirmation(app) -> None:  # type: ignore[no-untyped-def]
    citizen, other = Person(app, "100"), Person(app, "200")
    await citizen.say("/sub bầu cử")
    await other.say("/sub bầu cử")
    await citizen.say("/stop")
    assert "xóa mọi dữ liệu" in citizen.text
    await citizen.tap("Hủy")
    assert await _count(app, Subscription) == 2
    await citizen.say("/stop")
    await citizen.tap("Xóa hết")
    assert "Đã xóa toàn bộ dữ liệu" in citizen.text
    assert await _count(app, Chat, Chat.chat_key == "100") == 0
    assert await _count(app, User, User.user_key == "100") == 0
    assert await _count(app, Subscription) == 1  # the other person's stays
    await citizen.say("/confirm")
    assert "Không có thao tác nào" in citizen.text


async def test_stop_typed_and_old_confirm_button(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app, "u9", channel="zalo")
    await citizen.say("/sub bầu cử")
    await citizen.say("/stop")
    assert "/confirm" in citizen.text
    await citizen.say("/cancel")
    assert "Đã hủy" in citizen.text
    await citizen.say("/xacnhan")  # a Vietnamese alias; nothing is pending any more
    assert "Không có thao tác nào" in citizen.text
    await citizen.say("/stop")
    await citizen.say("/confirm")
    assert await _count(sqlite_app, Subscription) == 0
    assert await _count(sqlite_app, User) == 0


async def test_lang(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say("/lang")
    await citizen.tap("English")
    assert "English" in citizen.text
    await citizen.say("/list")
    assert "You have no subscriptions" in citizen.text
    await citizen.say("/lang tiếng việt")
    assert "tiếng Việt" in citizen.text
    await citizen.say("/lang klingon")
    assert citizen.text.startswith("Cách dùng: /lang")


async def test_help_and_stray_text(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    await citizen.say("/help")
    assert "/search" in citizen.text and "/addfeed" not in citizen.text
    await citizen.say("/frobnicate")
    assert "không biết lệnh /frobnicate" in citizen.text
    await citizen.say("xin chào")
    assert "/help" in citizen.text
    await citizen.say("/HELP@LoaBot")
    assert "/search" in citizen.text


async def test_groups_are_set_up_by_their_admins(app) -> None:  # type: ignore[no-untyped-def]
    member = Person(app, "7", chat="-100", kind="group")
    admin = Person(app, "8", chat="-100", kind="group", chat_admin=True)
    await member.say("/sub bầu cử")
    assert "Chỉ quản trị viên của nhóm" in member.text
    await admin.say("/sub bầu cử")
    assert "Đã đăng ký" in admin.text
    await member.say("/list")  # reading is for everyone
    assert "1.</b>" in member.text
    await member.tap("Xóa 1")
    assert "Chỉ quản trị viên của nhóm" in (member.last.button_answer or "")
    await admin.say("/start")
    await member.say("chuyện phiếm")  # group chatter gets no reply, even during the set-up
    assert not member.last.messages
    await admin.say("Hà Nội")
    assert "Đã chọn: Hà Nội" in admin.text
    await member.say("/stop")
    assert "Chỉ quản trị viên của nhóm" in member.text
    await admin.say("/stop")
    await admin.tap("Xóa hết")
    assert await _count(app, Chat, Chat.chat_key == "-100") == 0
    assert await _count(app, User, User.user_key == "8") == 1  # the admin's own record stays


async def test_only_the_asker_can_confirm_in_a_group(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    one = Person(sqlite_app, "8", chat="-5", kind="group", chat_admin=True)
    two = Person(sqlite_app, "9", chat="-5", kind="group", chat_admin=True)
    await one.say("/sub bầu cử")
    await one.say("/stop")
    await two.press(one.button("Xóa hết"))
    assert "cũ" in (two.last.button_answer or "")
    await two.say("/confirm")
    assert "Không có thao tác nào" in two.text
    assert await _count(sqlite_app, Subscription) == 1
    await one.say("/confirm")
    assert await _count(sqlite_app, Subscription) == 0


async def test_a_failing_handler_apologises_and_logs(sqlite_app, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    async def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(subscriptions, "list_subscriptions", broken)
    citizen = Person(sqlite_app)
    with caplog.at_level(logging.ERROR, logger="handlers.router"):
        await citizen.say("/list")
    assert citizen.text.startswith("Xin lỗi")
    assert "disk on fire" in caplog.text and "/list" in caplog.text
    await citizen.say("/help")  # and the bot goes on
    assert "/search" in citizen.text


async def test_long_lists_are_split_at_item_boundaries(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(sqlite_app)
    chat = await chats.ensure_chat(sqlite_app, "telegram", "100")
    words = "xã " * 80
    for n in range(subscriptions.MAX_PER_CHAT):
        await subscriptions.subscribe(sqlite_app, chat.id, keywords=f"{words} {n}")
    await citizen.say("/list")
    assert len(citizen.last.messages) > 1  # Person checks each is within 4096 units
    await citizen.say("/sub một nữa")
    assert "quá nhiều đăng ký" in citizen.text
