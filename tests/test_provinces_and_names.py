"""One reader of a typed province (code, name, slug, with or without marks) for the CLI and chat
alike; a source added without a name takes its feed's own title; /addfeed keeps every word of
the name after the province."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from classify.query import province_code
from ingest.worker import poll_once
from runtime import App, open_app
from services import sources, users
from services.errors import ServiceError
from storage.models import Source
from tests.chat_support import Person
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer

FEED = ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Báo Hải Phòng  điện tử</title><item><title>Tin một</title>"
        "<link>https://baohaiphong.example.vn/1</link></item></channel></rss>").encode()


@pytest.mark.parametrize(("typed", "code"), [
    ("31", "31"), ("1", "01"), ("01", "01"), ("96", "96"), ("Hải Phòng", "31"),
    ("hai phong", "31"), ("hai-phong", "31"), ("HAI_PHONG", "31"), ("tp-ho-chi-minh", "79"),
    ("TP.HCM", "79"), ("tỉnh An Giang", "91"), ("Thành phố Huế", "46"), ("thai binh", "33"),
    ("02", None), ("99", None), ("an giang tin", None), ("miền Trung", None), ("bão", None),
    ("", None),
])
def test_one_reader_of_a_province(typed: str, code: str | None) -> None:
    assert province_code(typed) == code


@pytest.fixture
async def admin_app(sqlite_url: str):  # type: ignore[no-untyped-def]
    application = open_app(make_settings(sqlite_url, admin_ids="1"))
    yield application
    await application.close()


async def _source(app: App, source_id: int) -> Source:
    async with app.sessions() as session:
        source = await session.get(Source, source_id)
        assert source is not None
        return source


async def test_cli_and_chat_accept_the_same_forms(admin_app: App) -> None:
    added = await sources.add_source(admin_app, "https://a.example.vn/rss", province="hai-phong")
    assert added.province == "31"
    with pytest.raises(ServiceError) as refused:
        await sources.add_source(admin_app, "https://b.example.vn/rss", province="34")
    assert refused.value.code == "bad_province"

    admin = Person(admin_app, "1")
    await admin.say("/addfeed https://c.example.vn/rss an giang Tin thu")
    [source] = [s for s in await sources.list_sources(admin_app) if s.url.startswith("https://c")]
    assert (source.province, source.name) == ("91", "Tin thu")
    await admin.say("/addfeed https://d.example.vn/rss hai-phong")
    [source] = [s for s in await sources.list_sources(admin_app) if s.url.startswith("https://d")]
    assert (source.province, source.name) == ("31", "")

    await users.ensure_user(admin_app, "telegram", "7")
    await admin.say("/grant 7 official hai-phong ha-noi")
    person = await users.find_user(admin_app, "telegram", "7")
    assert person is not None and sorted(person.provinces) == ["01", "31"]


async def test_an_unnamed_source_takes_its_feeds_title(sqlite_app: App,
                                                       feed_server: FeedServer) -> None:
    unnamed = await sources.add_source(sqlite_app, feed_server.add("/rss", FEED))
    named = await sources.add_source(sqlite_app, feed_server.add("/named", FEED), name="Mine")
    assert unnamed.name == ""
    await poll_once(sqlite_app)
    assert (await _source(sqlite_app, unnamed.id)).name == "Báo Hải Phòng điện tử"
    assert (await _source(sqlite_app, named.id)).name == "Mine"
    async with sqlite_app.sessions() as session:
        assert len((await session.scalars(select(Source))).all()) == 2
