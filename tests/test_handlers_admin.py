"""Admin commands through `dispatch`: refusals (logged), roles, sources, statistics, broadcasts
and OPML; every admin action lands in the audit log."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from delivery.alerts import Alert, alert_admins
from handlers.commands import names_for_role
from runtime import App, open_app
from services import chats, subscriptions, users
from storage.models import AuditLog, Chat, Delivery, Source
from tests.chat_support import Person
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Nguon</title></head><body>
  <outline text="Tin tuc">
    <outline type="rss" text="Bao Lao Cai" xmlUrl="https://baolaocai.example.vn/rss" province="15"/>
    <outline type="rss" text="Dan Toc" xmlUrl="https://dantoc.example.vn/rss.xml" category="Tin"/>
  </outline>
  <outline type="rss" text="Hong" xmlUrl="ftp://not-http.example.vn/feed"/>
</body></opml>"""


@pytest.fixture
async def admin_app(db_url: str):  # type: ignore[no-untyped-def]
    """User 1 is an admin by ADMIN_IDS, on both engines."""
    application = open_app(make_settings(db_url, admin_ids="1,zalo:ad01"))
    yield application
    await application.close()


async def _audit(app: App) -> list[AuditLog]:
    async with app.sessions() as session:
        return list((await session.scalars(select(AuditLog).order_by(AuditLog.id))).all())


@pytest.mark.parametrize("command", names_for_role("admin"))
async def test_non_admins_are_refused_at_every_admin_command(admin_app, command: str) -> None:  # type: ignore[no-untyped-def]
    citizen = Person(admin_app, "42")
    await citizen.say(f"/{command} https://example.vn/rss 42 official 33")
    assert citizen.text == "Lệnh này chỉ dành cho quản trị viên."
    [entry] = await _audit(admin_app)
    assert (entry.actor, entry.action, entry.allowed) == ("telegram:42", f"/{command}", False)
    async with admin_app.sessions() as session:
        assert (await session.scalars(select(Source))).all() == []


async def test_a_bare_admin_id_is_a_telegram_id_only(admin_app) -> None:  # type: ignore[no-untyped-def]
    # ADMIN_IDS="1,zalo:ad01": telegram:1 and zalo:ad01 are admins;
    # zalo:1 and telegram:ad01 are not.
    for channel, user_key, allowed in (("telegram", "1", True), ("zalo", "1", False),
                                       ("zalo", "ad01", True), ("console", "1", False)):
        person = Person(admin_app, user_key, channel=channel)
        await person.say("/stats")
        assert (person.text == "Lệnh này chỉ dành cho quản trị viên.") is not allowed, channel
        assert await users.is_admin(admin_app, channel, user_key) is allowed
    # Alerts go to the configured admins' private chats on their own channel only.
    for channel in ("telegram", "zalo"):
        await chats.ensure_chat(admin_app, channel, "1")
    await alert_admins(admin_app, Alert.SOURCE_PAUSED, id=1, name="Báo", url="https://a.vn/rss",
                       detail="HTTP 404")
    async with admin_app.sessions() as session:
        alerted = (await session.execute(
            select(Chat.channel, Chat.chat_key).join(Delivery, Delivery.chat_id == Chat.id)
            .where(Delivery.kind == "alert"))).all()
    assert sorted(alerted) == [("telegram", "1"), ("zalo", "ad01")]


async def test_aliases_and_officials_are_refused_too(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    await users.grant(sqlite_app, "cli", "telegram", "7", "official", ["33"])
    official = Person(sqlite_app, "7")
    await official.say("/thongke")
    assert official.text == "Lệnh này chỉ dành cho quản trị viên."
    await official.say("/grant 7 admin")
    assert official.text == "Lệnh này chỉ dành cho quản trị viên."
    assert (await users.find_user(sqlite_app, "telegram", "7")).role == "official"


async def test_grant_official_report_and_revoke(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin, official = Person(admin_app, "1"), Person(admin_app, "555")
    await official.say("/report")
    assert "chỉ dành cho cán bộ" in official.text
    await admin.say("/grant 555 official 33 lào cai")
    assert "telegram:555 là cán bộ của: Lào Cai, Hưng Yên" in admin.text
    person = await users.find_user(admin_app, "telegram", "555")
    assert person.role == "official" and person.provinces == ("15", "33")
    chat = await chats.ensure_chat(admin_app, "telegram", "555")
    reports = [s for s in await subscriptions.list_subscriptions(admin_app, chat.id)
               if s.kind == "report"]
    assert sorted(s.delivery.mode for s in reports) == ["daily", "weekly"]
    assert all(s.provinces == ("15", "33") for s in reports)
    await official.say("/list")
    assert "Báo cáo tỉnh: Lào Cai, Hưng Yên" in official.text
    await official.say("/help")
    assert "/report" in official.text and "/grant" not in official.text

    await admin.say("/revoke 555")
    assert "Đã thu hồi quyền của telegram:555" in admin.text
    assert (await users.find_user(admin_app, "telegram", "555")).role == "citizen"
    assert await subscriptions.list_subscriptions(admin_app, chat.id) == []
    await official.say("/report")
    assert "chỉ dành cho cán bộ" in official.text
    actions = [(e.action, e.allowed) for e in await _audit(admin_app)]
    assert ("/grant", True) in actions and ("grant", True) in actions
    assert ("/revoke", True) in actions and ("revoke", True) in actions


async def test_grant_admin_across_channels_and_bad_grants(admin_app) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    await admin.say("/grant zalo:beef01 quản trị")
    assert "zalo:beef01 là quản trị viên" in admin.text
    zalo_admin = Person(admin_app, "beef01", channel="zalo")
    await zalo_admin.say("/stats")
    assert "Thống kê" in zalo_admin.text
    configured = Person(admin_app, "ad01", channel="zalo")  # "zalo:ad01" in ADMIN_IDS
    await configured.say("/stats")
    assert "Thống kê" in configured.text
    for bad in ("/grant", "/grant 5", "/grant 5 official", "/grant 5 boss"):
        await admin.say(bad)
        assert admin.text.startswith("Cách dùng: /grant"), bad
    await admin.say("/revoke 1")
    assert "ADMIN_IDS" in admin.text  # the polite line says why, in the admin's language
    await admin.say("/revoke 999")
    assert "Không có người dùng này: 999" in admin.text


async def test_stats(admin_app) -> None:  # type: ignore[no-untyped-def]
    await Person(admin_app, "2").say("/sub bầu cử")
    admin = Person(admin_app, "1")
    await admin.say("/stats")
    # State words in the reader's language (the CLI's `admin stats` says "citizen 2"); table
    # names are the database's, shown as code.
    assert "Người dùng: người dân 2" in admin.text
    assert "Đăng ký: nhận ngay 1" in admin.text and "Nguồn: 0" in admin.text
    assert "Bảng dữ liệu (số dòng, dung lượng):" in admin.text
    assert re.search(r"\n<code>subscriptions</code>: 1 dòng, \d+\.\d MB", admin.text)


async def _deliveries(app: App) -> list[Delivery]:
    async with app.sessions() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def test_broadcast_preview_then_confirm(admin_app) -> None:  # type: ignore[no-untyped-def]
    await Person(admin_app, "2").say("/sub bầu cử lào cai")
    await Person(admin_app, "3").say("/sub bầu cử hà nội")
    await Person(admin_app, "4", kind="group", chat="-9", chat_admin=True).say("/sub lào cai")
    gone = Person(admin_app, "5")
    await gone.say("/sub lào cai")
    async with admin_app.sessions() as session, session.begin():
        chat = await session.scalar(select(Chat).where(Chat.chat_key == "5"))
        chat.active = False
    admin = Person(admin_app, "1")
    await admin.say("/broadcast lào cai Mưa lớn <b>đêm nay</b>, đề phòng sạt lở")
    assert "sẽ gửi tới <b>2</b> cuộc trò chuyện (Lào Cai)" in admin.text
    assert "Mưa lớn &lt;b&gt;đêm nay&lt;/b&gt;" in admin.text
    assert await _deliveries(admin_app) == []  # nothing before the confirmation
    confirm = admin.button("Gửi")
    await admin.press(confirm)
    assert "Đã xếp 2 tin" in admin.text
    await admin.press(confirm)  # a second tap sends nothing more
    assert "cũ" in (admin.last.button_answer or "")
    rows = await _deliveries(admin_app)
    assert len(rows) == 2 and {r.kind for r in rows} == {"broadcast"}
    assert all("Mưa lớn &lt;b&gt;đêm nay" in r.payload["parts"][0]["text"] for r in rows)
    await admin.say("/broadcast " + "rất dài " * 300)
    assert "dài quá" in admin.text
    assert len({r.dedup_key for r in rows}) == 2

    await admin.say("/broadcast Bảo trì hệ thống lúc 22:00")
    assert "mọi người" in admin.text
    await admin.tap("Hủy")
    assert len(await _deliveries(admin_app)) == 2
    await admin.say("/broadcast lào cai")
    assert admin.text.startswith("Cách dùng: /broadcast")
    actions = [e.action for e in await _audit(admin_app)]
    assert actions.count("broadcast") == 1 and actions.count("/broadcast") == 4


async def test_broadcast_typed_confirmation(sqlite_app) -> None:  # type: ignore[no-untyped-def]
    sqlite_app.settings.admin_ids.append("console:1")
    await Person(sqlite_app, "2", channel="console").say("/sub bầu cử")
    admin = Person(sqlite_app, "1", channel="console")
    await admin.say("/broadcast Chào mọi người")
    assert "/confirm" in admin.text and not admin.buttons()
    await admin.say("/confirm")
    assert "Đã xếp 2 tin" in admin.text  # the admin's own chat is in the audience too


async def test_import_and_export_opml(admin_app, tmp_path, sqlite_template) -> None:  # type: ignore[no-untyped-def]
    admin = Person(admin_app, "1")
    await admin.say("/import", document=("nguon.opml", OPML))
    assert "Đã nhập 2 nguồn, bỏ qua 1" in admin.text and "ftp://" in admin.text
    await admin.say("/import")
    assert "Gửi tệp OPML" in admin.text
    await admin.say("", document=("x.xml", b"<html><body>not opml</body></html>"))
    assert "không phải OPML" in admin.text
    await admin.say("", document=("again.opml", OPML))
    assert "Đã nhập 0 nguồn, bỏ qua 3" in admin.text
    await Person(admin_app, "2").say("", document=("nguon.opml", OPML))
    async with admin_app.sessions() as session:
        sources = {s.url: s for s in (await session.scalars(select(Source))).all()}
    assert set(sources) == {"https://baolaocai.example.vn/rss", "https://dantoc.example.vn/rss.xml"}
    assert sources["https://baolaocai.example.vn/rss"].province == "15"
    assert sources["https://dantoc.example.vn/rss.xml"].name == "Dan Toc"

    await admin.say("/export")
    [note, attached] = admin.last.messages
    name, data = attached.document
    assert name.endswith(".opml") and b'province="15"' in data and b"dantoc.example.vn" in data
    shutil.copyfile(sqlite_template, tmp_path / "other.db")  # migrated (tests/conftest.py)
    other = open_app(make_settings(f"sqlite:///{tmp_path / 'other.db'}", admin_ids="1"))
    try:
        await Person(other, "1").say("/import", document=(name, data))
        async with other.sessions() as session:
            rows = (await session.scalars(select(Source))).all()
            copied = {(s.url, s.province, s.name) for s in rows}
    finally:
        await other.close()
    assert copied == {(s.url, s.province, s.name) for s in sources.values()}


async def test_feed_commands(admin_app, feed_server: FeedServer) -> None:  # type: ignore[no-untyped-def]
    url = feed_server.add("/rss", (FIXTURES / "sggp.rss").read_bytes())
    admin = Person(admin_app, "1")
    await admin.say(f"/addfeed {url} Lào Cai Báo Thử Nghiệm")
    assert "Đã thêm nguồn số" in admin.text and "Báo Thử Nghiệm" in admin.text
    async with admin_app.sessions() as session:
        [source] = (await session.scalars(select(Source))).all()
    assert (source.province, source.name) == ("15", "Báo Thử Nghiệm")
    await admin.say(f"/addfeed {url}")
    assert "Nguồn này đã có" in admin.text
    await admin.say("/addfeed not-a-url")
    assert admin.text.startswith("Cách dùng: /addfeed")
    await admin.say("/feeds")
    assert "Báo Thử Nghiệm" in admin.text and "đang chạy" in admin.text
    await admin.say(f"/pausefeed {source.id}")
    await admin.say("/feeds")
    assert "tạm dừng" in admin.text
    await admin.say(f"/resumefeed {url}")
    await admin.say(f"/testfeed {url}")
    assert "Chạy thử" in admin.text and "không lưu gì" in admin.text
    await admin.say(f"/removefeed {source.id}")
    await admin.say(f"/removefeed {source.id}")
    assert "Không có nguồn" in admin.text
    await admin.say("/feeds")
    assert "Chưa có nguồn tin nào" in admin.text
    await admin.say("/pausefeed")
    assert admin.text.startswith("Cách dùng: /pausefeed")
    actions = {e.action for e in await _audit(admin_app)}
    assert {"/addfeed", "source_add", "/pausefeed", "source_pause", "/resumefeed",
            "source_resume", "/testfeed", "/removefeed", "source_remove", "/feeds"} <= actions
