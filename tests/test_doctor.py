"""`bot.py doctor` against the fake Bot API and Zalo servers and the local feed server: a good
set-up passes every check; a misconfigured one names every problem, with its fix."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.doctor import diagnose
from runtime import open_app
from services.sources import add_source
from tests.conftest import make_settings
from tests.e2e_support import FeedItem, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZaloApi

ITEM = FeedItem("Lũ lớn ở An Giang, hàng trăm hộ dân phải di dời", "lu-an-giang")


@pytest.fixture
def fake_zalo() -> Iterator[FakeZaloApi]:
    with FakeZaloApi() as api:
        yield api


def _add_sources(db_url: str, *urls: str) -> None:
    async def add() -> None:
        app = open_app(make_settings(db_url))
        try:
            for url in urls:
                await add_source(app, url)
        finally:
            await app.close()
    asyncio.run(add())


def _run(capsys: pytest.CaptureFixture[str], **overrides: object) -> tuple[int, list[str]]:
    code = diagnose(**{"_env_file": None, "allow_private_sources": True, "log_file": "",
                       **overrides})
    return code, capsys.readouterr().out.splitlines()


def test_a_good_set_up_passes_every_check(
    sqlite_url: str, fake_telegram: FakeTelegram, fake_zalo: FakeZaloApi,
    feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _add_sources(sqlite_url, feed_server.add("/tin.rss", rss([ITEM])))
    code, lines = _run(capsys, database_url=sqlite_url, **fake_telegram.settings_overrides(),
                       **fake_zalo.settings_overrides())
    assert code == 0, lines
    checks = lines[:-1]
    assert all(line.startswith("✓ ") for line in checks), lines
    text = "\n".join(lines)
    for expected in ("configuration: every setting is valid", "answers",
                     "migrations: at the latest", f"Telegram: the token is valid, the bot is "
                     f"@{fake_telegram.bot_username}", "Zalo: the token is valid",
                     "source 1 (", ": 1 items", "disk: ", "time zone Asia/Ho_Chi_Minh"):
        assert expected in text
    assert lines[-1] == f"{len(checks)} passed, 0 failed"


def test_a_misconfigured_set_up_names_every_problem(
    sqlite_url: str, fake_telegram: FakeTelegram, feed_server: FeedServer,
    capsys: pytest.CaptureFixture[str]
) -> None:
    good = feed_server.add("/tin.rss", rss([ITEM]))
    _add_sources(sqlite_url, good, feed_server.url("/gone.rss"))  # the second answers 404
    wrong_token = "987654321:AAwrongwrongwrongwrongwrongwrong"
    code, lines = _run(
        capsys, database_url=sqlite_url, timezone="Asia/Hanoi", admin_ids="9f3a0c1b2d",
        poll_interval_seconds=30,
        telegram_bot_token=wrong_token, telegram_api_base_url=fake_telegram.base_url,
        zalo_bot_token="1:zalo-token-zalo-token", zalo_api_base_url="http://127.0.0.1:1/bot",
    )
    assert code == 1
    failed = [line for line in lines if line.startswith("✗ ")]
    text = "\n".join(lines)
    for problem in ("✗ TIMEZONE: unknown time zone 'Asia/Hanoi'", "✗ ADMIN_IDS: '9f3a0c1b2d'",
                    "✗ POLL_INTERVAL_SECONDS and POLL_MIN_INTERVAL_SECONDS",
                    "✗ Telegram: the API rejects TELEGRAM_BOT_TOKEN",
                    "✗ Zalo: the API at http://127.0.0.1:1/bot cannot be reached",
                    "✗ source 2 ("):
        assert problem in text, text
    assert "✓ source 1 (" in text and "✓ migrations: at the latest" in text
    assert len(failed) == 6
    # Every ✗ has its fix on the next line; no token is printed.
    for index, line in enumerate(lines):
        if line.startswith("✗ "):
            assert lines[index + 1].startswith("    fix: ")
    assert wrong_token.partition(":")[2] not in text and "zalo-token-zalo-token" not in text
    assert lines[-1].endswith(" passed, 6 failed")


def test_database_problems_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # exists, never migrated
    code, lines = _run(capsys, database_url=f"sqlite:///{empty}")
    assert code == 1
    assert any(line.startswith("✗ migrations: the database is at none, the code needs ")
               for line in lines)
    assert "✗ sources: not checked, the database is not ready" in lines

    missing = tmp_path / "missing.db"
    code, lines = _run(capsys, database_url=f"sqlite:///{missing}")
    assert code == 1 and any("the file does not exist yet" in line for line in lines)
    assert not missing.exists()  # the doctor creates nothing

    code, lines = _run(capsys, database_url="postgresql://loa:s3cret-pass@127.0.0.1:1/loa")
    text = "\n".join(lines)
    assert code == 1 and "✗ database postgresql://loa:***@127.0.0.1:1/loa: " in text
    assert "s3cret-pass" not in text
