"""End to end on Zalo: people type to the fake Zalo Bot API, Loa's real handlers answer through the
Zalo adapter, and what each chat receives is read back from the fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from channels.zalo_app import ZaloHandle, start_zalo, stop_zalo
from runtime import App, open_app
from storage.models import AuditLog, Chat, Source, Subscription
from tests.conftest import make_settings
from tests.delivery_support import add_item, add_source
from tests.fakes.zalo_api import FakeZaloApi
from tests.waiting import wait_for
from vntext import utf16_len

CITIZEN = "8f3e2a9b7c6d5e4f"  # Zalo ids are opaque hex strings
ADMIN = "a0b1c2d3e4f5a6b7"


@dataclass
class Zalo:
    """The fake Zalo and the running adapter, with a person's view of a conversation."""

    fake: FakeZaloApi
    handle: ZaloHandle
    pushed: int = 0

    async def say(self, user: str, text: str, chat: str | None = None,
                  chat_type: str = "PRIVATE") -> str:
        """Type `text`; return everything Loa answered to it, as the person sees it."""
        chat = chat or user
        before = len(self.fake.messages_for(chat))
        self.fake.push_text(user, text, chat_id=chat, chat_type=chat_type)
        self.pushed += 1
        await wait_for(lambda: self.handle.inbound.done >= self.pushed)
        replies = self.fake.messages_for(chat)[before:]
        assert all(utf16_len(m.text) <= 2000 and "<b>" not in m.text for m in replies)
        return "\n".join(m.text for m in replies)


@pytest.fixture
def fake() -> Iterator[FakeZaloApi]:
    with FakeZaloApi() as api:
        yield api


@pytest.fixture
async def zalo_app(db_url: str, fake: FakeZaloApi) -> AsyncIterator[tuple[App, Zalo]]:
    app = open_app(make_settings(db_url, **fake.settings_overrides(), zalo_poll_timeout_seconds=1,
                                 admin_ids=f"123456789,{ADMIN}"))
    handle = await start_zalo(app)
    yield app, Zalo(fake, handle)
    await stop_zalo(handle)
    await app.close()


async def _count(app: App, model: type, *where: object) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_citizen_subscribes_searches_unsubscribes_and_stops(zalo_app: tuple[App, Zalo]) -> None:
    app, zalo = zalo_app
    # Onboarding is a short typed dialogue: no buttons on Zalo.
    assert "Bước 1/3" in await zalo.say(CITIZEN, "/start")
    assert "Bước 2/3" in await zalo.say(CITIZEN, "an giang")
    assert "Bước 3/3" in await zalo.say(CITIZEN, "1")
    done = await zalo.say(CITIZEN, "ngay")
    assert "Nhà Đại đoàn kết" in done and "An Giang" in done
    assert "1. chủ đề Nhà Đại đoàn kết" in await zalo.say(CITIZEN, "/list")

    async with app.sessions() as session, session.begin():
        source = await add_source(session, "Báo An Giang")
        for n in range(7):
            await add_item(session, source, f"Bàn giao nhà Đại đoàn kết số {n} ở An Giang",
                           provinces=["91"], topics=["nha-dai-doan-ket"])
    # Results are numbered and pages are typed: "/search lao cai 2".
    first_page = await zalo.say(CITIZEN, "/search nha dai doan ket")
    assert "trang 1/2" in first_page and "5. Bàn giao nhà Đại đoàn kết" in first_page
    assert "/search nha dai doan ket 2" in first_page
    second_page = await zalo.say(CITIZEN, "/search nha dai doan ket 2")
    assert "trang 2/2" in second_page and "7. Bàn giao nhà Đại đoàn kết số 0" in second_page

    assert "Đã hủy đăng ký số 1" in await zalo.say(CITIZEN, "/unsub 1")
    assert await _count(app, Subscription) == 0
    assert "/confirm" in await zalo.say(CITIZEN, "/stop")
    assert "Đã xóa toàn bộ dữ liệu" in await zalo.say(CITIZEN, "/confirm")
    assert await _count(app, Chat, Chat.chat_key == CITIZEN) == 0


async def test_admin_adds_a_feed_from_zalo(zalo_app: tuple[App, Zalo]) -> None:
    app, zalo = zalo_app
    refused = await zalo.say(CITIZEN, "/addfeed https://baoangiang.example.vn/rss 91 Báo An Giang")
    assert await _count(app, Source) == 0 and refused
    added = await zalo.say(ADMIN, "/addfeed https://baoangiang.example.vn/rss 91 Báo An Giang")
    assert "Báo An Giang" in added
    async with app.sessions() as session:
        source = await session.scalar(select(Source))
        actors = list(await session.scalars(select(AuditLog.actor).where(AuditLog.allowed)))
    assert source is not None and (source.url, source.province) == ("https://baoangiang.example.vn/rss", "91")
    assert f"zalo:{ADMIN}" in actors
    assert await _count(app, AuditLog, AuditLog.allowed.is_(False), AuditLog.actor == f"zalo:{CITIZEN}") == 1
