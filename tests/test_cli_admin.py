"""`bot.py admin ...`: the admin actions from the command line, run in-process."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select

import bot
from runtime import open_app
from services import users
from storage.models import AuditLog, Delivery, Source
from tests.conftest import make_settings

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><body>
<outline type="rss" text="Bao Hung Yen" xmlUrl="https://baohungyen.example.vn/rss" province="33"/>
</body></opml>"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("LOG_FILE", str(tmp_path / "loa.log"))

    def run(*argv: str) -> int:
        return bot.main(["admin", *argv])

    def query(statement):  # type: ignore[no-untyped-def]
        async def go():  # type: ignore[no-untyped-def]
            app = open_app(make_settings(url))
            try:
                async with app.sessions() as session:
                    return (await session.execute(statement)).all()
            finally:
                await app.close()
        return asyncio.run(go())

    run.query = query  # type: ignore[attr-defined]
    run.url = url  # type: ignore[attr-defined]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield run
    root.handlers[:], root.level = handlers, level  # bot.main set up its own logging


def test_grant_revoke_stats(cli, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli("grant", "555", "official", "33", "lào", "cai") == 0
    out = capsys.readouterr().out
    assert "telegram:555 is now official of 15, 33" in out and "never written to Loa" in out
    assert cli("grant", "\u200b555", "admin") == 2  # not an id, said so without a traceback
    assert "'\\u200b555' is not a telegram user id" in capsys.readouterr().err
    assert cli("grant", "zalo:beef", "admin") == 0
    assert cli("grant", "9", "official") == 2  # an official needs a province
    assert "at least one province" in capsys.readouterr().err
    assert cli("stats") == 0
    out = capsys.readouterr().out
    assert "users by role: admin 1, official 1" in out
    assert "tables:" in out and re.search(r"\n  users: 2 rows, \d+\.\d MB", out)
    assert cli("revoke", "555") == 0
    assert cli("revoke", "nobody") == 2
    rows = cli.query(select(AuditLog.actor, AuditLog.action, AuditLog.target))
    assert ("cli", "grant", "telegram:555") in rows and ("cli", "revoke", "telegram:555") in rows

    async def role() -> str:  # type: ignore[no-untyped-def]
        app = open_app(make_settings(cli.url))
        try:
            return (await users.find_user(app, "zalo", "beef")).role
        finally:
            await app.close()
    assert asyncio.run(role()) == "admin"


def test_broadcast_needs_yes(cli, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli("grant", "1", "official", "33") == 0  # gives chat 1 a Hưng Yên report subscription
    capsys.readouterr()
    assert cli("broadcast", "Bảo trì <tối nay>", "--province", "hưng yên") == 0
    assert "would reach 1 chats" in capsys.readouterr().out
    assert cli.query(select(Delivery.id)) == []
    assert cli("broadcast", "Bảo trì <tối nay>", "--province", "hưng yên", "--yes") == 0
    [(payload,)] = cli.query(select(Delivery.payload))
    assert "Bảo trì &lt;tối nay&gt;" in payload["parts"][0]["text"]
    assert cli("broadcast", "x", "--province", "atlantis") == 2


def test_opml_round_trip(cli, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "in.opml"
    source.write_bytes(OPML)
    assert cli("import", str(source)) == 0
    assert "imported 1 sources, skipped 0" in capsys.readouterr().out
    assert cli.query(select(Source.url, Source.province)) == [
        ("https://baohungyen.example.vn/rss", "33")]
    assert cli("export", str(tmp_path / "out.opml")) == 0
    assert b'xmlUrl="https://baohungyen.example.vn/rss"' in (tmp_path / "out.opml").read_bytes()
    assert cli("export") == 0
    assert "<opml" in capsys.readouterr().out
    assert cli("import", str(tmp_path / "missing.opml")) == 2
