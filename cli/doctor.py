"""`bot.py doctor`: is this set-up ready to run? One line per check, ✓ or ✗, and for each ✗ the
fix; the exit status is 1 when anything failed.

It checks the configuration (every wrong setting, not only the first), the database and its
migrations, each channel's API (the token, by getMe), each active source (a dry fetch: nothing
is stored), the disk space where Loa writes, and the time zone. It changes nothing: it neither
migrates nor stores. Everything it prints goes through the redactor.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from cli import help_of
from config import ConfigError, Settings
from logs import Redactor
from runtime import open_app
from services import sources
from services.errors import ServiceError
from storage.migrate import current_head, current_revision

EXIT_PROBLEMS = 1
# Below this much free space where the database and the log live, the bot will soon fail.
MIN_FREE_BYTES = 500 * 1024 * 1024
SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        return f"✓ {self.what}" if self.ok else f"✗ {self.what}\n    fix: {self.fix}"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser("doctor", help=help_of("doctor"))
    # bot.py calls `diagnose` itself when the settings do not load, so every problem is named.
    doctor.set_defaults(func=_doctor, diagnose=diagnose)


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    return diagnose(args, settings)


def diagnose(args: argparse.Namespace | None = None, settings: Settings | None = None,
             **overrides: Any) -> int:
    """Print every finding; 0 when all passed. Without `settings` they are read here
    (`overrides` as for load_settings), each wrong one named and replaced by its default so
    that the other checks still run."""
    findings: list[Finding] = []
    if settings is None:
        settings, findings = load_partially(**overrides)
    zone_ok = not any(f.what.startswith("TIMEZONE") for f in findings)
    if settings is None:
        findings.append(Finding(False, "the other checks need settings that load",
                                "fix the settings above"))
    else:
        if not findings:
            findings.append(Finding(True, "configuration: every setting is valid"))
        findings += asyncio.run(_checks(settings))
        if zone_ok:
            findings.append(_time_zone(settings))
    redact = Redactor(settings.secrets() if settings is not None else [])
    for finding in findings:
        print(redact(finding.line()))
    failed = sum(not f.ok for f in findings)
    print(redact(f"{len(findings) - failed} passed, {failed} failed"))
    return EXIT_PROBLEMS if failed else 0


def load_partially(**overrides: Any) -> tuple[Settings | None, list[Finding]]:
    """The settings with each invalid value replaced by its default, and a finding per invalid
    value; None when they still do not load."""
    findings: list[Finding] = []
    values = dict(overrides)
    defaulted: set[str] = set()
    for _ in range(len(Settings.model_fields)):
        try:
            return Settings(**values), findings
        except ValidationError as exc:
            replaced = False
            for error in exc.errors():
                message = str(error["msg"]).removeprefix("Value error, ")
                loc = error.get("loc")
                names = ([str(loc[0])] if loc else
                         [n.lower() for n in SETTING_NAME.findall(message)])
                names = [n for n in names if n in Settings.model_fields and n not in defaulted]
                label = str(loc[0]).upper() if loc else " and ".join(n.upper() for n in names)
                label = label or "settings"
                findings.append(Finding(False, f"{label}: {message}",
                                        f"correct {label} in .env or the environment "
                                        "(see .env.example)"))
                for name in names:
                    values[name] = Settings.model_fields[name].get_default(
                        call_default_factory=True)
                    defaulted.add(name)
                    replaced = True
            if not replaced:
                return None, findings
    return None, findings


async def _checks(settings: Settings) -> list[Finding]:
    findings = [*_database(settings)]
    migrated = findings[-1].ok
    findings += await _channels(settings)
    if migrated:
        findings += await _sources(settings)
    else:
        findings.append(Finding(False, "sources: not checked, the database is not ready",
                                "fix the database first"))
    findings.append(_disk(settings))
    return findings


def _database(settings: Settings) -> list[Finding]:
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        return [Finding(False, f"database {shown}: the file does not exist yet",
                        "run `python bot.py db upgrade` (`run` does it at start), or correct "
                        "DATABASE_URL if the database is elsewhere")]
    try:
        revision = current_revision(settings.database_url)
    except ConfigError as exc:
        return [Finding(False, f"database {shown}: {exc}".replace("invalid setting ", ""),
                        "check DATABASE_URL; for PostgreSQL, is the server running and the "
                        "database created?")]
    head = current_head()
    answers = Finding(True, f"database {shown} answers")
    if revision != head:
        return [answers, Finding(False, f"migrations: the database is at {revision or 'none'}, "
                                        f"the code needs {head}",
                                 "run `python bot.py db upgrade` (`run` does it at start)")]
    return [answers, Finding(True, f"migrations: at the latest ({head})")]


async def _channels(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    telegram = settings.telegram_bot_token.get_secret_value() \
        if settings.telegram_bot_token else ""
    zalo = settings.zalo_bot_token.get_secret_value() if settings.zalo_bot_token else ""
    if not telegram and not zalo:
        return [Finding(True, "channels: no token set, `run` opens the console channel")]
    if telegram:
        found.append(await _telegram(settings))
    if zalo:
        found.append(await _zalo(settings, zalo))
    return found


async def _telegram(settings: Settings) -> Finding:
    from telegram.error import InvalidToken, TelegramError

    from channels.telegram import whoami

    try:
        name = await whoami(settings)
    except InvalidToken:
        return Finding(False, "Telegram: the API rejects TELEGRAM_BOT_TOKEN",
                       "copy the token again from @BotFather (/token)")
    except TelegramError as exc:
        return Finding(False, f"Telegram: the API at {settings.telegram_api_base_url} cannot be "
                              f"reached ({type(exc).__name__}: {exc})",
                       "check the network, a firewall, or TELEGRAM_API_BASE_URL")
    return Finding(True, f"Telegram: the token is valid, the bot is {name}")


async def _zalo(settings: Settings, token: str) -> Finding:
    from channels.zalo_client import ZaloClient, ZaloError

    client = ZaloClient(settings.zalo_api_base_url, token, timeout=settings.http_timeout_seconds)
    try:
        me = await client.get_me()
    except ZaloError as exc:
        if exc.code == 401:
            return Finding(False, "Zalo: the API rejects ZALO_BOT_TOKEN",
                           "copy the token again from the Zalo Bot Platform")
        reason = f"{exc.code} {exc.description}" if exc.code else exc.description
        return Finding(False, f"Zalo: the API at {settings.zalo_api_base_url} cannot be "
                              f"reached ({reason})",
                       "check the network, a firewall, or ZALO_API_BASE_URL")
    finally:
        await client.aclose()
    name = me.get("account_name") or me.get("id") or "?"
    return Finding(True, f"Zalo: the token is valid, the bot is {name}")


async def _sources(settings: Settings) -> list[Finding]:
    app = open_app(settings)
    try:
        active = [s for s in await sources.list_sources(app) if s.state == "active"]
        if not active:
            return [Finding(True, "sources: none active yet (`bot.py sources add URL`)")]
        results = await asyncio.gather(*(sources.test_source(app, s.url) for s in active),
                                       return_exceptions=True)
    finally:
        await app.close()
    found = []
    for source, result in zip(active, results, strict=True):
        named = f"source {source.id} ({source.name}, {source.url})"
        if isinstance(result, ServiceError):
            found.append(Finding(False, f"{named}: {result.reason}",
                                 f"check the address in a browser; `bot.py sources pause "
                                 f"{source.id}` or `remove {source.id}` if it is gone"))
        elif isinstance(result, BaseException):
            found.append(Finding(False, f"{named}: {type(result).__name__}: {result}",
                                 "see the log; report it if it repeats"))
        else:
            found.append(Finding(True, f"{named}: {len(result.items)} items"))
    return found


def _disk(settings: Settings) -> Finding:
    url = make_url(settings.database_url)
    places = [Path(settings.log_file).parent] if settings.log_file else []
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        places.append(Path(url.database).parent)
    places = places or [Path(".")]
    free = {place: shutil.disk_usage(place).free for place in places if place.is_dir()}
    if not free:
        return Finding(True, "disk: nothing written locally")
    place, least = min(free.items(), key=lambda kv: kv[1])
    what = f"disk: {least / 1024**3:.1f} GiB free in {place}"
    if least < MIN_FREE_BYTES:
        return Finding(False, what + f" (under {MIN_FREE_BYTES // 1024**2} MiB)",
                       "free some space, or move LOG_FILE / the database to a larger disk")
    return Finding(True, what)


def _time_zone(settings: Settings, now: Callable[[], datetime] = datetime.now) -> Finding:
    local = now().astimezone(settings.tz)
    return Finding(True, f"time zone {settings.timezone}: now {local:%Y-%m-%d %H:%M} "
                         f"(UTC{local:%z}); digests and reports follow it")
