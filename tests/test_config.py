"""A wrong or missing setting stops start-up with one line that names it."""

import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults() -> None:
    settings = load_settings(_env_file=None)
    assert settings.poll_interval_seconds == 600
    assert settings.poll_min_interval_seconds == 120
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert settings.database_url.startswith("sqlite:///")


def test_paths_are_the_project_roots_whatever_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(_env_file=None, database_url="sqlite:///./data/loa.db",
                             log_file="data/loa.log")
    assert settings.database_url == f"sqlite:///{ROOT / 'data' / 'loa.db'}"
    assert settings.log_file == str(ROOT / "data" / "loa.log")
    absolute = load_settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert absolute.database_url == f"sqlite:///{tmp_path / 'x.db'}"
    assert Settings.model_config["env_file"] == ROOT / ".env"


def test_the_database_is_shown_without_its_password() -> None:
    settings = load_settings(
        _env_file=None, database_url="postgresql://loa:s3cr%40t@db:5432/loa?password=s3cr%40t")
    shown = settings.database_shown()
    assert shown == "postgresql://loa:***@db:5432/loa"
    assert "s3cr" not in shown


def test_admin_ids_are_per_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "12345, zalo:9f3a0c1b2d; telegram:-100777,zalo:42")
    settings = load_settings(_env_file=None)
    assert settings.admin_keys("telegram") == {"12345", "-100777"}
    assert settings.admin_keys("zalo") == {"9f3a0c1b2d", "42"}
    assert settings.is_admin("telegram", "12345") and not settings.is_admin("zalo", "12345")
    assert settings.is_admin("zalo", "42") and not settings.is_admin("telegram", "42")
    assert not settings.is_admin("console", "12345") and not settings.is_admin("telegram", "54321")


@pytest.mark.parametrize(
    ("value", "says"),
    [("9f3a0c1b2d", "zalo:9f3a0c1b2d"), ("skype:42", "telegram, zalo, console"),
     ("zalo:", "no usable id"), ("telegram:abc", "not a Telegram id")],
)
def test_admin_ids_that_name_no_one_are_refused(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("ADMIN_IDS", value)
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "ADMIN_IDS" in str(err.value) and says in str(err.value)


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


@pytest.mark.slow
def test_cli_prints_one_line_and_exits(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "POLL_INTERVAL_SECONDS": "often",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'loa.db'}", "LOG_FILE": ""}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "db", "upgrade"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "POLL_INTERVAL_SECONDS" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_wrong_setting_is_named_before_the_command_loads(tmp_path: Path) -> None:
    """`run` with a wrong setting stops before its module (the whole bot) is imported; help and
    `doctor` still work without settings."""
    env = {"PATH": "/usr/bin:/bin", "POLL_INTERVAL_SECONDS": "often",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'loa.db'}", "LOG_FILE": ""}
    probe = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import bot\n"
             "code = bot.main(sys.argv[1:])\n"
             "print(code, 'cli.run' in sys.modules, 'channels.console' in sys.modules)\n")

    def main(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    refused = main("run")
    assert refused.stdout.split() == ["2", "False", "False"]
    assert "POLL_INTERVAL_SECONDS" in refused.stderr
    helped = main("run", "--help")
    assert helped.returncode == 0 and "usage: bot.py run" in helped.stdout
    doctor = main("doctor")
    assert "✗ POLL_INTERVAL_SECONDS" in doctor.stdout
