"""A wrong or missing setting stops start-up with one line that names it."""

import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults() -> None:
    settings = load_settings(_env_file=None)
    assert settings.poll_interval_seconds == 600
    assert settings.poll_min_interval_seconds == 120
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.database_url.startswith("sqlite:///")


def test_admin_ids_are_text_and_mix_telegram_and_zalo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "12345, 9f3a0c1b2d")
    settings = load_settings(_env_file=None)
    assert settings.admin_ids == ["12345", "9f3a0c1b2d"]
    assert settings.is_admin("12345") and not settings.is_admin("54321")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("POLL_INTERVAL_SECONDS", "often"),
        ("TIMEZONE", "Mars/Olympus"),
        ("DATABASE_URL", "mysql://x"),
        ("HTTP_MAX_BYTES", "-1"),
    ],
)
def test_wrong_setting_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert name in str(err.value)
    assert "\n" not in str(err.value)


def test_interval_below_minimum_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL_SECONDS", "60")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "POLL_INTERVAL_SECONDS" in str(err.value)


def test_cli_prints_one_line_and_exits(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "POLL_INTERVAL_SECONDS": "often"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "db", "upgrade"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "POLL_INTERVAL_SECONDS" in proc.stderr
    assert "Traceback" not in proc.stderr
