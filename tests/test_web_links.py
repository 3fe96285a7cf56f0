"""Links both ways: digests and /search in chat end with their web page, /help names the Atom
feeds of the chat's subscriptions; none of it without PUBLIC_BASE_URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from render.links import page_for
from runtime import App, open_app
from storage.views import ItemView
from tests.chat_support import Person
from tests.conftest import make_settings
from tests.delivery_support import (
    T0,
    MemoryChannel,
    add_chat,
    add_item,
    add_source,
    add_sub,
    delivery_settings,
    run_until_idle,
)
from tests.fakes.clock import FakeClock

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
BASE = "https://loa.example"
RELIEF = "thien-tai-cuu-tro"


@pytest.fixture
async def linked(sqlite_url: str) -> AsyncIterator[App]:
    app = open_app(make_settings(sqlite_url, public_base_url=BASE, web_prefix="/loa"))
    yield app
    await app.close()


async def _storms(app: App) -> None:
    async with app.sessions() as session, session.begin():
        src = await add_source(session)
        for n in range(3):
            await add_item(session, src, f"Lũ quét ở Huế, đợt {n}", provinces=["46"],
                           topics=[RELIEF], published_at=T0 + timedelta(hours=n))


async def test_search_ends_with_its_page(linked: App) -> None:
    await _storms(linked)
    citizen = Person(linked)
    await citizen.say("/search lu quet hue")
    assert citizen.text.endswith(
        f"{BASE}/loa/p/46?topic={RELIEF}&amp;q=lu+quet+hue")
    await citizen.say("/search lu quet")
    assert citizen.text.endswith(f"{BASE}/loa/t/{RELIEF}")


async def test_no_link_without_a_public_address(sqlite_app: App) -> None:
    await _storms(sqlite_app)
    citizen = Person(sqlite_app)
    await citizen.say("/sub lũ lụt huế")
    await citizen.say("/search lu quet hue")
    assert "🌐" not in citizen.text and "/p/46" not in citizen.text
    await citizen.say("/help")
    assert "Atom" not in citizen.text


async def test_help_names_the_feeds_of_the_subscriptions(linked: App) -> None:
    citizen = Person(linked)
    await citizen.say("/sub lũ lụt huế")
    await citizen.say("/help")
    assert f"{BASE}/loa/atom/p/46/t/{RELIEF}" in citizen.text
    await citizen.say("/sub hà nội")
    await citizen.say("/help")
    assert f"{BASE}/loa/atom/p/01\n" in citizen.text + "\n"


def _view(provinces: tuple[str, ...], topics: tuple[str, ...]) -> ItemView:
    return ItemView(1, "t", "", "https://x", T0, "s", provinces, topics)


def test_a_digest_links_to_what_its_items_share() -> None:
    assert page_for([_view(("46", "48"), (RELIEF,)), _view(("48",), (RELIEF, "bau-cu"))]) \
        == f"/p/48?topic={RELIEF}"
    assert page_for([_view(("46",), (RELIEF,)), _view(("01",), (RELIEF,))]) == f"/t/{RELIEF}"
    assert page_for([_view(("46",), ()), _view(("01",), ())]) == "/"


async def test_the_digest_ends_with_its_page(sqlite_url: str) -> None:
    app = open_app(delivery_settings(sqlite_url, public_base_url=BASE))
    app.channels = {"memory": MemoryChannel()}
    due = datetime(2026, 9, 14, 7, tzinfo=TZ)
    app.clock = FakeClock(due + timedelta(seconds=30))
    try:
        async with app.sessions() as session, session.begin():
            src = await add_source(session)
            await add_item(session, src, "Tin sáng nay ở Huế", provinces=["46"],
                           fetched_at=due - timedelta(hours=1))
            chat = await add_chat(session, 501, channel="memory")
            await add_sub(session, chat, provinces=["46"], mode="daily", hour=7)
        await run_until_idle(app)
        [digest] = app.channels["memory"].texts_for(501)  # type: ignore[attr-defined]
        assert digest.endswith(f"{BASE}/p/46")
    finally:
        await app.close()
