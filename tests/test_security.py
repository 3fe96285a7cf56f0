"""Secrets stay secret on every path, a crash at start-up included.

`bot.py` runs as a real process with hostile settings; each run must end with its exit code and
exactly one line, and no form of any secret (whole, a token's secret half, URL-encoded) may appear
in stdout, stderr or the log file. The forms are computed here, independently of logs.Redactor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from telegram.error import TelegramError

from channels.telegram import TelegramChannel, is_bad_url
from channels.telegram_app import start_telegram
from channels.zalo_client import ZaloClient
from config import ConfigError
from logs import Redactor
from model.channel import OutMessage, Status
from runtime import open_app
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import PATIENCE

ROOT = Path(__file__).resolve().parents[1]

TELEGRAM_TOKEN = "7123456789:AAH-dq_TcvCH1vGWJxfSeofSAs0K5PALDsaw"
# Characters that URL-encode differently from each other ("+", "/", "=", "%", "&", ":", "@").
ZALO_TOKEN = "3141592653:zalo+Sec/ret=Val%ue&more@Key_12"
WEBHOOK_SECRET = "hook+Secret/with=odd%chars"
DB_PASSWORD = "p@ss:w/rd+Sec%ret"
SECRETS = (TELEGRAM_TOKEN, ZALO_TOKEN, WEBHOOK_SECRET, DB_PASSWORD)


def secret_forms(secret: str) -> set[str]:
    halves = [secret, secret.partition(":")[2]] if ":" in secret else [secret]
    forms = set()
    for part in halves:
        forms |= {part, quote(part, safe=""), quote(part), quote(part, safe=":"), quote_plus(part),
                  quote(part, safe="").lower(), json.dumps(part)[1:-1]}
    return {form for form in forms if len(form) >= 8}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            for form in secret_forms(secret):
                assert form not in text, f"a form of a secret leaked: {form!r}"


def bot(
    tmp_path: Path, *args: str, **settings: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run bot.py in an empty directory (no .env) with every secret set; returns the process
    and the log file's text."""
    log_file = tmp_path / "loa.log"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'loa.db'}",
        "LOG_FILE": str(log_file),
        "LOG_LEVEL": "INFO",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "ZALO_BOT_TOKEN": ZALO_TOKEN,
        "ZALO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
        "TELEGRAM_FILE_BASE_URL": "http://127.0.0.1:9/file/bot",
        "ZALO_API_BASE_URL": "http://127.0.0.1:9/bot",
        **settings,
    }
    proc = subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    logged = log_file.read_text(encoding="utf-8") if log_file.exists() else ""
    return proc, logged


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def pg_url(password: str, port: int) -> str:
    return f"postgresql://loa:{quote(password, safe='')}@127.0.0.1:{port}/loa"


@pytest.mark.parametrize(
    ("command", "setting", "value"),
    [
        ("run", "ZALO_API_BASE_URL", "http://[bad"),
        # No /bot: the token becomes the port.
        ("run", "ZALO_API_BASE_URL", "http://127.0.0.1:8080"),
        ("run", "ZALO_API_BASE_URL", "http://127.0.0.1:8080/bot?x=1"),
        ("deliver", "TELEGRAM_API_BASE_URL", "http://127.0.0.1:8080"),
        ("run", "TELEGRAM_API_BASE_URL", "http://127.0.0.1:8080"),
        ("run", "TELEGRAM_API_BASE_URL", "ftp://127.0.0.1/bot"),
        ("run", "TELEGRAM_FILE_BASE_URL", "http://127.0.0.1:99999/file/bot"),
        ("run", "PUBLIC_BASE_URL", "http://exa mple.org"),
        ("run", "DATABASE_URL", "mysql://root@127.0.0.1/loa"),
        ("run", "DATABASE_URL", "postgresql+asyncpg://loa@127.0.0.1/loa"),
        ("run", "DATABASE_URL", "not a url at all"),
        ("deliver", "DATABASE_URL", "sqlite:///{tmp}/missing/dir/x.db"),
        ("run", "DATABASE_URL", pg_url(DB_PASSWORD, 1)),  # nothing listens on port 1
        ("run", "ADMIN_IDS", "9f3a0c1b2d"),
        ("run", "LOG_FILE", "{tmp}/missing/loa.log"),
    ],
)
@pytest.mark.slow
def test_a_bad_setting_is_one_line_that_names_it(
    tmp_path: Path, command: str, setting: str, value: str
) -> None:
    value = value.replace("{tmp}", str(tmp_path))
    proc, logged = bot(tmp_path, str(ROOT / "bot.py"), command, **{setting: value})
    assert proc.returncode == 2
    assert setting in one_line(proc)
    assert_no_secret(proc.stdout, proc.stderr, logged)
    assert not (tmp_path / "missing").exists()  # no directory made for a database or a log


@pytest.mark.parametrize("token", ["123:abc/def?x", "12345:has space", "no-colon-at-all"])
@pytest.mark.slow
def test_a_malformed_telegram_token_is_refused_without_echoing_it(
    tmp_path: Path, token: str
) -> None:
    proc, logged = bot(tmp_path, str(ROOT / "bot.py"), "deliver", TELEGRAM_BOT_TOKEN=token)
    assert proc.returncode == 2 and token not in logged
    line = one_line(proc)
    assert "TELEGRAM_BOT_TOKEN" in line and token not in line and token.split(":")[-1] not in line


CRASH = f"""
import sys
from urllib.parse import quote, quote_plus
import bot
import cli.db

def crash(args, settings):
    raise RuntimeError(
        "GET https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe failed\\n"
        "port: {TELEGRAM_TOKEN.partition(':')[2]!r}, zalo " + quote({ZALO_TOKEN!r}, safe=":")
        + " and " + quote_plus({ZALO_TOKEN!r}).lower() + ", hook " + quote({WEBHOOK_SECRET!r})
        + ", db " + quote({DB_PASSWORD!r}, safe="") + " / " + {DB_PASSWORD!r}
    )

cli.db._upgrade = crash
sys.exit(bot.main(["db", "upgrade"]))
"""


@pytest.mark.slow
def test_an_unexpected_crash_is_one_redacted_line_and_a_logged_traceback(tmp_path: Path) -> None:
    proc, logged = bot(tmp_path, "-c", CRASH, PYTHONPATH=str(ROOT),
                       DATABASE_URL=pg_url(DB_PASSWORD, 5432))
    assert proc.returncode == 1
    line = one_line(proc)
    assert line.startswith("loa: RuntimeError: GET https://api.telegram.org/bot<redacted>/getMe")
    assert str(tmp_path / "loa.log") in line
    assert "Traceback" in logged and "RuntimeError" in logged and "crash" in logged
    assert_no_secret(proc.stdout, proc.stderr, logged)


@pytest.mark.slow
def test_a_crash_logged_as_json_lines_holds_no_secret(tmp_path: Path) -> None:
    proc, logged = bot(tmp_path, "-c", CRASH, PYTHONPATH=str(ROOT), LOG_FORMAT="json",
                       DATABASE_URL=pg_url(DB_PASSWORD, 5432))
    assert proc.returncode == 1
    lines = [json.loads(line) for line in logged.splitlines()]
    crash = next(line for line in lines if line["logger"] == "loa.crash")
    assert crash["level"] == "CRITICAL" and "RuntimeError" in crash["exception"]
    assert {"time", "level", "logger", "event"} <= crash.keys()
    assert crash["time"][-6] in "+-"  # the zone's offset: ...T13:20:01.123+07:00
    assert_no_secret(proc.stdout, proc.stderr, logged)


# --- The same paths with the settings check bypassed: the code below it holds on its own ---------


def test_zalo_client_refuses_a_base_url_that_would_quote_the_token() -> None:
    for base in ("http://[bad", "http://127.0.0.1:8080", "http://127.0.0.1:8080/bot#x"):
        with pytest.raises(ConfigError) as refused:
            ZaloClient(base, ZALO_TOKEN)
        assert "ZALO_API_BASE_URL" in str(refused.value)
        assert_no_secret(str(refused.value))


async def test_a_bad_telegram_url_is_a_setting_not_an_outage(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url, telegram_bot_token=TELEGRAM_TOKEN).model_copy(
        update={"telegram_api_base_url": "http://127.0.0.1:8080"})  # as if unchecked
    channel = TelegramChannel(settings)
    with pytest.raises(ConfigError) as refused:
        await channel.start()
    assert "TELEGRAM_API_BASE_URL" in str(refused.value)
    outcome = await channel.send("5", OutMessage(text="x"))
    assert outcome.status is Status.AUTH  # never retried as if Telegram were down
    assert_no_secret(str(refused.value), outcome.detail)
    await channel.close()

    app = open_app(settings)
    try:
        with pytest.raises(ConfigError):  # at once, instead of retrying forever in the background
            await start_telegram(app)
    finally:
        await app.close()


async def test_a_bad_file_url_is_recognised_and_its_error_redacted(
    sqlite_url: str, fake_telegram: FakeTelegram
) -> None:
    settings = make_settings(sqlite_url, **fake_telegram.settings_overrides()).model_copy(
        update={"telegram_file_base_url": f"http://127.0.0.1:{fake_telegram.port}"})
    message = fake_telegram.push_document(5, 5, "nguon.opml", b"<opml/>")
    channel = TelegramChannel(settings)
    await channel.start()
    try:
        with pytest.raises(TelegramError) as failed:
            await channel.download(message["document"]["file_id"])
    finally:
        await channel.close()
    assert is_bad_url(failed.value)
    text = "".join(traceback.format_exception(failed.value))
    token = fake_telegram.token
    assert token.partition(":")[2] in text  # what httpx quotes: the secret half, as a "port"
    clean = Redactor(settings.secrets())(text)
    assert token not in clean and token.partition(":")[2] not in clean


def test_help_lists_every_command_and_each_commands_own_help(tmp_path: Path) -> None:
    # bot.py imports only the module of the command it runs; the others are listed by name.
    listing = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--help"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=PATIENCE, check=True).stdout
    for command in ("run", "db", "sources", "poll", "classify", "reclassify", "admin", "deliver",
                    "doctor"):
        assert f"    {command} " in listing
    own = subprocess.run([sys.executable, str(ROOT / "bot.py"), "admin", "--help"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=PATIENCE, check=True).stdout
    assert "grant" in own and "broadcast" in own
