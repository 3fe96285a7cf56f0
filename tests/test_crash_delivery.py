"""Crash safety: kill -9 the real bot process in the middle of a large digest run, restart it,
and count what each chat received from the fake Bot API server.

Every chat must get its whole digest, each part exactly once. A part may come twice only if it
was in flight at the kill: accepted by the server but not yet recorded in the database. The test
prints how many there were.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runtime import open_app
from tests.conftest import make_settings
from tests.delivery_support import add_chat, add_item, add_source, add_sub
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import PATIENCE, wait_for_sync

ROOT = Path(__file__).resolve().parents[1]
SMALL_CHATS, BIG_CHATS = 300, 100  # one-part digests, and digests of several parts

pytestmark = pytest.mark.slow(weight=5)


async def _fill(url: str) -> None:
    """Chats subscribed to a daily digest that fell due this hour, and the items for it."""
    app = open_app(make_settings(url))
    tz = app.settings.tz
    now = datetime.now(tz)
    due = now.replace(minute=0, second=0, microsecond=0)
    try:
        async with app.sessions() as session, session.begin():
            src = await add_source(session)
            await add_item(session, src, "Tin ngắn ở Huế", provinces=["46"],
                           fetched_at=due - timedelta(minutes=30))
            for n in range(30):
                await add_item(session, src, f"Tin dài số {n} ở Đà Nẵng " + "chữ " * 60,
                               "tóm tắt " * 40, provinces=["48"],
                               fetched_at=due - timedelta(minutes=40, seconds=n))
            for n in range(SMALL_CHATS + BIG_CHATS):
                chat = await add_chat(session, 700_000 + n)
                await add_sub(session, chat, provinces=["46" if n < SMALL_CHATS else "48"],
                              mode="daily", hour=due.hour, created_at=due - timedelta(days=1))
    finally:
        await app.close()


def _start(url: str, fake: FakeTelegram, cwd: Path) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": url,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
        "TELEGRAM_ALLOW_PAID_BROADCAST": "true",
        "TELEGRAM_GLOBAL_PER_SECOND": "150",
        "TELEGRAM_PRIVATE_PER_SECOND": "20",
        "DELIVERY_POLL_SECONDS": "0.05",
        "DELIVERY_CLAIM_TIMEOUT_SECONDS": "1",
        # The restart waits for the killed sender's channel lease to run out: a short one.
        "LEADER_LEASE_SECONDS": "3",
        "LOG_LEVEL": "WARNING",
        "LOG_FILE": str(cwd / "loa.log"),
    }
    # Run from an empty directory, so no developer's .env is read.
    return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "deliver", "--until-idle"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _confirmed_parts(db: Path) -> dict[int, int]:
    """Per chat, how many digest parts the database had recorded as sent when the bot died."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT c.chat_key, CASE WHEN d.state = 'sent' THEN 1000000 ELSE d.parts_sent END"
            " FROM deliveries d JOIN chats c ON c.id = d.chat_id WHERE d.kind = 'digest'")
        return {int(key): parts for key, parts in rows}


def _part(text: str) -> tuple[int, int]:
    found = re.search(r"\((\d+)/(\d+)\)$", text)
    return (int(found.group(1)), int(found.group(2))) if found else (1, 1)


async def test_kill_9_mid_digest_run_then_restart_delivers_each_digest_once(
    tmp_path: Path, sqlite_template: Path
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "crash.db")  # migrated (tests/conftest.py)
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    await _fill(url)
    workdir = tmp_path / "run"
    workdir.mkdir()
    with FakeTelegram() as fake:
        first = _start(url, fake, workdir)
        try:
            # Kill once a good part of the run is out, judged by what the server received.
            wait_for_sync(lambda: len(fake.sent) >= 250 or first.poll() is not None)
            assert first.poll() is None, first.stdout.read().decode()  # type: ignore[union-attr]
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=PATIENCE)
        finally:
            if first.poll() is None:
                first.kill()
        before_kill = len(fake.sent)
        confirmed = _confirmed_parts(tmp_path / "crash.db")

        second = _start(url, fake, workdir)
        output, _ = second.communicate(timeout=PATIENCE)
        assert second.returncode == 0, output.decode()

        received: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for sent in fake.sent:
            received[sent.chat_id].append(_part(sent.plain))

    assert len(received) == SMALL_CHATS + BIG_CHATS
    duplicates = 0
    for chat_id, parts in received.items():
        counts = Counter(parts)
        total = parts[0][1]
        assert set(counts) == {(k, total) for k in range(1, total + 1)}, chat_id
        if chat_id >= 700_000 + SMALL_CHATS:
            assert total > 1  # the big digests really come in several parts
        for (number, _), count in counts.items():
            if count > 1:
                duplicates += count - 1
                # In flight: the server had it, the database had not recorded it at the kill.
                assert count == 2 and number > confirmed.get(chat_id, 0), (chat_id, number)
    print(f"\ncrash test: {before_kill} messages before kill -9, {len(fake.sent)} in all, "
          f"{duplicates} duplicate(s), all in flight at the kill")
