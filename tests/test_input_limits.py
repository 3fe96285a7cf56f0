"""Hostile and careless input, each case of issue 13 on both engines: a report subscription edited
to another province, NUL and control characters, values too long for their column, numbers out
of range, /grant of ids that are not ids, the last admin, /id, and the audit log after /stop."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import select

from handlers.router import dispatch
from handlers.types import Incoming
from render.texts import t
from runtime import App, open_app
from services import audit, limits, subscriptions, users
from services.errors import ServiceError
from storage.models import AuditLog, Chat, Source, Subscription, User
from tests.chat_support import Person
from tests.conftest import count_rows, make_settings

APOLOGY = t("vi", "error_internal")
BAD_CHARACTERS = t("vi", "error_bad_characters")


@pytest.fixture
async def admin_app(db_url: str):  # type: ignore[no-untyped-def]
    """User 1 is an admin by ADMIN_IDS, on both engines."""
    application = open_app(make_settings(db_url, admin_ids="1"))
    yield application
    await application.close()


async def _audit(app: App) -> list[AuditLog]:
    async with app.sessions() as session:
        return list((await session.scalars(select(AuditLog).order_by(AuditLog.id))).all())


# --- Finding 2: a report subscription names only the official's provinces ---------------------


async def test_official_cannot_edit_a_report_to_another_province(app) -> None:  # type: ignore[no-untyped-def]
    await users.grant(app, "cli", "telegram", "50", "official", ["01"])  # Hà Nội
    official = Person(app, "50")
    await official.say("/edit 1 cao bang")
    assert "không phải: Cao Bằng" in official.text
    await official.say("/edit 1 nha dai doan ket")  # no province: would be every province
    assert "chỉ xem được báo cáo" in official.text
    chat = await _private_chat(app, "50")
    reports = await subscriptions.list_subscriptions(app, chat)
    assert [r.provinces for r in reports] == [("01",), ("01",)]
    await official.say("/edit 1 ha noi bau cu")  # their own province: fine
    assert "Đã sửa đăng ký số 1" in official.text
    assert (await subscriptions.list_subscriptions(app, chat))[0].provinces == ("01",)


async def test_fix_buttons_on_a_report_go_through_the_same_rule(app) -> None:  # type: ignore[no-untyped-def]
    await users.grant(app, "cli", "telegram", "50", "official", ["01"])
    official = Person(app, "50")
    chat = await _private_chat(app, "50")
    report = (await subscriptions.list_subscriptions(app, chat))[0]
    await official.press(f"sf:{report.id}:p")  # a forged fix button on the report
    await official.say("cao bang")
    await official.say("xong")
    assert (await subscriptions.list_subscriptions(app, chat))[0].provinces == ("01",)
    assert APOLOGY not in official.text


async def _private_chat(app: App, key: str) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(select(Chat.id).where(Chat.chat_key == key)))


# --- Finding 3: NUL, controls, lengths and ranges -------------------------------------------


async def test_control_characters_are_refused_politely(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    for command in ("/sub bầu cử\x00", "/search lũ\x00lụt", "/latest \x00", "/edit 1 \x1b[31m",
                    "/why 1\x00", "/sub \ud800 an giang", "/addfeed https://a.example/rss\x00",
                    "/broadcast xin chào\x00", "/grant \x0042 admin", "/removefeed 1\x00",
                    "/report \x00", "bầu cử\x00"):
        await admin.say(command)
        assert admin.text.startswith(BAD_CHARACTERS), (command, admin.text)
    assert await count_rows(admin_app, Subscription) == 0
    assert await count_rows(admin_app, Source) == 0


async def test_display_names_and_titles_are_stripped_not_refused(app) -> None:  # type: ignore[no-untyped-def]
    result = await dispatch(app, Incoming(channel="telegram", chat_key="-100", user_key="7",
                                          chat_kind="group", chat_title="Nhóm\x00 A\ud800",
                                          user_name="An\x00 Nguyễn\n\x07", text="/start"))
    assert APOLOGY not in result.messages[0].text
    async with app.sessions() as session:
        assert await session.scalar(select(User.display_name)) == "An Nguyễn"
        assert await session.scalar(select(Chat.title)) == "Nhóm A"


async def test_ids_too_long_or_malformed_are_refused(app) -> None:  # type: ignore[no-untyped-def]
    for user_key, chat_key in (("9" * 65, "1"), ("1", "x" * 100), ("1\x00", "1"), ("a b", "1")):
        result = await dispatch(app, Incoming(channel="telegram", chat_key=chat_key,
                                              user_key=user_key, text="/start"))
        assert result.messages[0].text == t("vi", "error_bad_sender")
    assert await count_rows(app, User) == 0 and await count_rows(app, Chat) == 0


async def test_source_numbers_out_of_range_name_no_source(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    for ref in ("2147483648", "99999999999999999999999", "0", "²", "٣", "-1"):
        for command in ("removefeed", "pausefeed", "resumefeed"):
            await admin.say(f"/{command} {ref}")
            assert "Không có nguồn" in admin.text, (command, ref, admin.text)
    await admin.say("/removefeed " + "9" * 5000)  # over a message's length
    assert "tối đa 4096 ký tự" in admin.text


async def test_over_long_fields_are_refused_not_cut(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    await admin.say("/sub " + "mưa lũ " * 60)
    assert "tối đa 256 ký tự" in admin.text
    await admin.say("/search " + "lũ " * 100)
    assert "tối đa 256 ký tự" in admin.text
    await admin.say("/addfeed https://a.example/rss " + "Báo " * 100)
    assert "tối đa 256 ký tự" in admin.text
    assert await count_rows(admin_app, Subscription) == 0
    assert await count_rows(admin_app, Source) == 0


def test_limits_helpers() -> None:
    assert limits.clean_name("a\x00b\tc\u200fd") == "ab c\u200fd"  # RTL mark is text, kept
    assert limits.row_id("0042") == 42 and limits.row_id("2147483648") is None
    assert limits.shown("\u200b42") == "\\u200b42"
    assert limits.shown("x" * 50).endswith("…")
    assert limits.person_id_ok("telegram", "42") and not limits.person_id_ok("telegram", "042")
    assert not limits.person_id_ok("telegram", "1" * 17)
    assert limits.person_id_ok("zalo", "beef01") and not limits.person_id_ok("zalo", "bé")
    assert limits.person_ref("Zalo:ab", "telegram") == ("zalo", "ab")
    assert limits.person_ref("42", "zalo") == ("zalo", "42")


def test_the_refused_characters_are_the_control_and_surrogate_categories() -> None:
    # Every Cc and Cs code point is in the Basic Multilingual Plane.
    every = [chr(code) for code in range(0x10000)]
    refused = {c for c in every if c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cs")}
    kept = "".join(c for c in every if c not in refused)
    assert all(limits.has_bad_characters(f"a{c}b") for c in refused)
    assert not limits.has_bad_characters(kept)
    assert limits.clean_name("".join(every), limit=len(every)) == " ".join(kept.split())


# --- Finding 4: /grant names a person, never removes the last admin; /id ----------------------


async def test_grant_refuses_what_is_not_an_id(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    for ref in ("\u200b42", "4\u200d2", "😀", "42abc", "+42", "٤٢", "zalo:bé", "telegram:-5",
                "fax:42", "\u202e24"):
        await admin.say(f"/grant {ref} admin")
        assert "không phải mã người dùng" in admin.text, (ref, admin.text)
        assert "telegram:42" not in admin.text  # the echo shows what was typed, invisibles too
        await admin.say(f"/revoke {ref}")
        assert "không phải mã người dùng" in admin.text, (ref, admin.text)
    await admin.say("/grant \u200b42 admin")
    assert "“\\u200b42”" in admin.text
    assert await count_rows(admin_app, User) == 1  # only the admin


async def test_grant_refuses_a_huge_id_in_the_service(app) -> None:  # type: ignore[no-untyped-def]
    for key in ("9" * 10_000, "1\x00", ""):
        with pytest.raises(ServiceError) as refused:
            await users.grant(app, "cli", "telegram", key, "admin")
        assert refused.value.code == "bad_user_id"
    assert await count_rows(app, User) == 0


async def test_grant_to_an_id_never_seen_says_so(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    await admin.say("/grant 42 official an giang")
    assert "telegram:42 là cán bộ" in admin.text and "chưa từng nhận tin nhắn" in admin.text
    await Person(admin_app, "43", channel="zalo").say("/start")  # seen, with an opaque id
    await admin.say("/grant zalo:43 admin")
    assert "zalo:43 là quản trị viên" in admin.text and "chưa từng" not in admin.text
    [note] = [e for e in await _audit(admin_app) if e.action == "grant" and e.target.endswith("42")]
    assert note.details["new_to_loa"] is True


async def test_the_last_admin_is_never_removed(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    await users.grant(sqlite_app, "cli", "console", "local", "admin")  # no ADMIN_IDS at all
    me = Person(sqlite_app, "local", channel="console")
    await me.say("/grant local official an giang")
    assert "quản trị viên cuối cùng" in me.text
    await me.say("/revoke local")
    assert "quản trị viên cuối cùng" in me.text
    assert (await users.find_user(sqlite_app, "console", "local")).role == "admin"
    await me.say("/grant other admin")
    await me.say("/revoke local")  # another admin remains now
    assert "Đã thu hồi quyền của console:local" in me.text
    assert (await users.find_user(sqlite_app, "console", "local")).role == "citizen"


async def test_last_admin_on_both_engines_in_the_service(app) -> None:  # type: ignore[no-untyped-def]
    await users.grant(app, "cli", "telegram", "5", "admin")
    with pytest.raises(ServiceError) as refused:
        await users.grant(app, "cli", "telegram", "5", "official", ["01"])
    assert refused.value.code == "last_admin"
    app.settings.admin_ids.append("9")  # a configured admin remains: fine
    await users.revoke(app, "cli", "telegram", "5")


async def test_id_answers_with_the_channel_qualified_id(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    person = Person(sqlite_app, "42")
    await person.say("/id")
    assert "<code>telegram:42</code>" in person.text
    zalo = Person(sqlite_app, "ab12", channel="zalo")
    await zalo.say("/maso")
    assert "<code>zalo:ab12</code>" in zalo.text
    await person.say("/help")
    assert "/id" in person.text


# --- Finding 10: after /stop the audit log keeps a pseudonym ---------------------------------


async def test_stop_leaves_a_pseudonym_in_the_audit_log(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin, person = Person(admin_app, "1"), Person(admin_app, "42")
    await person.say("/stats")  # a refused attempt: actor telegram:42
    await person.say("/grant 42 admin")  # refused too, and names them in its text
    await admin.say("/grant 42 official an giang")  # the typed row and the service's row
    await admin.say("/grant telegram:77 admin")  # names someone else
    before = await _audit(admin_app)
    assert sum("42" in f"{e.actor} {e.target} {e.details}" for e in before) >= 3
    await person.say("/stop")
    await person.tap("Xóa hết")
    assert "bí danh" in person.text
    after = await _audit(admin_app)
    assert len(after) == len(before)
    alias = audit.pseudonym(admin_app.settings, "telegram:42")
    assert alias.startswith("anon:") and len(alias) == 21
    assert not any("42" in f"{e.actor} {e.target} {e.details}".replace(alias, "") for e in after)
    assert sum(alias in f"{e.actor} {e.target} {e.details}" for e in after) >= 3
    assert any(e.target.startswith("telegram:77") for e in after)  # others stay named
    assert audit.pseudonym(admin_app.settings, "telegram:42") == alias  # stable


def test_pseudonyms_are_keyed(sqlite_url: str) -> None:
    one = make_settings(sqlite_url, audit_pseudonym_key="k" * 32)
    two = make_settings(sqlite_url, audit_pseudonym_key="j" * 32)
    token = make_settings(sqlite_url, telegram_bot_token="123:abc")
    assert audit.pseudonym(one, "telegram:42") != audit.pseudonym(two, "telegram:42")
    assert audit.pseudonym(one, "telegram:42") == audit.pseudonym(one, "telegram:42")
    assert "abc" not in audit.pseudonym(token, "telegram:42")
    assert "k" * 32 in one.secrets()
