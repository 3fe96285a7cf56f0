"""OPML import (issue 13 #9): parsed by defusedxml with DTDs forbidden, capped in outlines, written
in one transaction, and the new sources' first polls spread over one poll interval. On both
engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from runtime import App, open_app
from services import admin, sources
from services.errors import Refusal, ServiceError
from storage.models import AuditLog, Source
from tests.chat_support import Person
from tests.conftest import make_settings

NOW = datetime(2026, 9, 14, 1, 0, tzinfo=UTC)


def opml(count: int, *, head: str = "", encoding: str = "UTF-8") -> str:
    outlines = "\n".join(f'<outline type="rss" text="Bao {n}" xmlUrl="https://bao{n}.example.vn/rss"/>'
                         for n in range(count))
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n{head}'
            f'<opml version="2.0"><body>\n{outlines}\n</body></opml>')


@pytest.fixture
async def opml_app(db_url: str) -> AsyncIterator[App]:
    application = open_app(make_settings(db_url, admin_ids="1", poll_interval_seconds=600,
                                         allow_private_sources=False))
    application.clock = lambda: NOW  # type: ignore[method-assign]
    yield application
    await application.close()


async def _sources(app: App) -> list[Source]:
    async with app.sessions() as session:
        return list((await session.scalars(select(Source).order_by(Source.id))).all())


async def _refused(app: App, data: bytes) -> ServiceError:
    with pytest.raises(ServiceError) as refused:
        await admin.import_opml(app, data, "cli")
    assert await _sources(app) == []
    return refused.value


async def test_a_doctype_in_utf16_is_refused(opml_app: App) -> None:
    data = opml(2, head='<!DOCTYPE opml [<!ENTITY x "xxxxxxxx">]>\n',
                encoding="UTF-16").encode("utf-16")
    assert b"<!DOCTYPE" not in data  # what the old byte check looked for
    refused = await _refused(opml_app, data)
    assert (refused.code, refused.reason) == ("bad_opml",
                                              "OPML with a DOCTYPE or entities is refused")


async def test_a_doctype_after_a_70_kb_comment_is_refused(opml_app: App) -> None:
    comment = "<!-- " + "đệm " * 17_500 + " -->\n"
    data = opml(2, head=comment + '<!DOCTYPE opml SYSTEM "http://169.254.169.254/x.dtd">\n')
    assert data.index("<!DOCTYPE") > 70_000
    assert (await _refused(opml_app, data.encode())).code == "bad_opml"


async def test_an_entity_bomb_is_refused(opml_app: App) -> None:
    bomb = ('<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
            + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
                      for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "]>\n")
    assert (await _refused(opml_app, opml(1, head=bomb).encode())).code == "bad_opml"


async def test_utf16_without_a_doctype_imports(opml_app: App) -> None:
    done = await admin.import_opml(opml_app, opml(3, encoding="UTF-16").encode("utf-16"), "cli")
    assert len(done.added) == 3 and done.skipped == []


async def test_over_the_cap_is_refused_with_a_clear_line(opml_app: App) -> None:
    data = opml(admin.MAX_OPML_OUTLINES + 1).encode()
    refused = await _refused(opml_app, data)
    assert refused.code == "opml_too_many"
    assert refused.reason == (f"the OPML file lists {admin.MAX_OPML_OUTLINES + 1:,} feeds; one"
                              f" import takes at most {admin.MAX_OPML_OUTLINES:,}")
    person = Person(opml_app, "1")
    await person.say("/import", document=("big.opml", data))
    assert person.text.startswith(f"Tệp này có {admin.MAX_OPML_OUTLINES + 1} nguồn; mỗi lần nhập"
                                  f" tối đa {admin.MAX_OPML_OUTLINES} nguồn.")
    assert await _sources(opml_app) == []


async def test_first_polls_are_spread_over_one_interval(opml_app: App) -> None:
    done = await admin.import_opml(opml_app, opml(10).encode(), "cli")
    assert len(done.added) == 10
    due = [row.next_check_at for row in await _sources(opml_app)]
    assert due == [NOW + timedelta(seconds=60 * n) for n in range(10)]


async def test_the_whole_cap_imports_in_one_transaction(opml_app: App) -> None:
    await sources.add_source(opml_app, "https://bao5.example.vn/rss")
    data = opml(admin.MAX_OPML_OUTLINES).replace(
        "https://bao7.example.vn/rss", "http://169.254.169.254/latest/meta-data/").replace(
        "https://bao9.example.vn/rss", "https://bao8.example.vn/rss")
    done = await admin.import_opml(opml_app, data.encode(), "cli")
    assert len(done.added) == admin.MAX_OPML_OUTLINES - 3
    # A typed reason for chat (its code and parameters), and the detail for the CLI.
    why = dict(done.skipped)
    exists = why["https://bao5.example.vn/rss"]
    assert (exists.code, exists.params["source_id"]) == (Refusal.SOURCE_EXISTS, 1)
    assert exists.reason == "https://bao5.example.vn/rss is already source 1"
    assert why["https://bao8.example.vn/rss"].code == Refusal.OPML_DUPLICATE
    refused = why["http://169.254.169.254/latest/meta-data/"]
    assert refused.code == Refusal.SOURCE_REFUSED and "is a link-local address" in refused.reason
    async with opml_app.sessions() as session:
        audit = (await session.scalars(select(AuditLog.action))).all()
    assert audit.count("source_add") == admin.MAX_OPML_OUTLINES - 2 and audit.count("import") == 1


async def test_a_failure_midway_stores_nothing(opml_app: App,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing(session, actor, source):  # type: ignore[no-untyped-def]
        calls.append(source.url)
        if len(calls) == 3:
            raise RuntimeError("disk full")

    monkeypatch.setattr(sources, "record_added", failing)
    with pytest.raises(RuntimeError):
        await admin.import_opml(opml_app, opml(5).encode(), "cli")
    assert await _sources(opml_app) == []

