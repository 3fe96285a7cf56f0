"""Loa's settings: read once at start from the environment or `.env`, then passed down.

No other module reads the environment. Every setting is documented in `.env.example`.

Paths have one anchor, the project root (`ROOT`, the directory holding `bot.py` and this file),
whatever the working directory: `.env` is read from it, and a relative `DATABASE_URL` (SQLite)
or `LOG_FILE` is resolved against it, so `./data/loa.db` is always the project's `data/`
(`DATA_DIR`), never a new empty database wherever the command was started.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# The chat channels a person can be on; ADMIN_IDS entries are "<channel>:<id>".
CHANNELS = ("telegram", "zalo", "console")
# A bare id in ADMIN_IDS means this channel (Loa started on Telegram only).
BARE_ID_CHANNEL = "telegram"
# Telegram's token shape (<bot id>:<secret>); anything else would bend the URL it is put into.
_TELEGRAM_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
# DATABASE_URL drivers we can run; storage/db.py picks the actual driver per engine.
_DRIVERS = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite",
            "postgresql", "postgres", "postgresql+psycopg"}


# A URL path prefix: "/a/b", each segment unreserved characters only (nothing to escape).
_PATH_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")
# The project root and its one writable directory (the database, the log, caches).
ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names it."""


def check_base_url(value: str, *, bot_path: bool = True) -> str | None:
    """Why `value` cannot be an API base URL the token is appended to, or None when it can.

    Checked before any request: a malformed base URL makes httpx fail on the whole URL, token
    included, and its error text would quote the token. The value itself is never echoed."""
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must not have a user, a ?query or a #fragment"
    if bot_path and not parts.path.endswith("/bot"):
        return "must end with /bot (the token is appended to it)"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=ROOT / ".env", env_file_encoding="utf-8",
                                      extra="ignore", validate_default=True)

    # Channels
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    zalo_bot_token: SecretStr | None = None
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com/bot"
    zalo_webhook_secret: SecretStr | None = None
    public_base_url: str | None = None

    # People: user ids as text, so Telegram's numbers and Zalo's hex ids sit side by side.
    admin_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Keys the pseudonyms that replace a person's id in the audit log after /stop; unset, it is
    # derived from the first bot token (services/audit.py).
    audit_pseudonym_key: SecretStr | None = None

    # Storage and time
    database_url: str = "sqlite:///./data/loa.db"
    timezone: str = "Asia/Ho_Chi_Minh"

    # Polling
    poll_interval_seconds: int = Field(600, ge=1)
    poll_min_interval_seconds: int = Field(120, ge=1)
    source_pause_after_seconds: int = Field(3 * 24 * 3600, ge=60)
    source_pause_after_errors: int = Field(100, ge=1)
    http_timeout_seconds: float = Field(20.0, gt=0)
    http_max_bytes: int = Field(5_000_000, ge=1024)
    http_max_redirects: int = Field(5, ge=0)
    http_per_host_concurrency: int = Field(2, ge=1)
    http_user_agent: str = "LoaBot/1.0 (+civic news notifier)"
    # Sources on loopback, link-local, private or other non-public addresses (feeds.policy).
    allow_private_sources: bool = False

    # Delivery pacing for Telegram
    telegram_global_per_second: int = Field(30, ge=1, le=1000)
    telegram_allow_paid_broadcast: bool = False
    telegram_private_per_second: float = Field(1.0, gt=0)
    telegram_group_per_minute: int = Field(20, ge=1)

    # Delivery pacing for Zalo: no published rate, so conservative defaults.
    zalo_global_per_second: int = Field(5, ge=1, le=1000)
    zalo_private_per_second: float = Field(0.5, gt=0)
    zalo_group_per_minute: int = Field(10, ge=1)
    # Zalo's 429 has no retry_after: we wait this long, doubling per 429 in a row, up to the max.
    zalo_quota_backoff_seconds: float = Field(2.0, gt=0)
    zalo_quota_backoff_max_seconds: float = Field(300.0, gt=0)
    # Zalo inbound: long polling (getUpdates) or webhook (needs PUBLIC_BASE_URL and the secret).
    zalo_mode: Literal["polling", "webhook"] = "polling"
    zalo_poll_timeout_seconds: int = Field(30, ge=1, le=60)
    # The small HTTP server for Zalo's webhook and for photos fetched under PUBLIC_BASE_URL.
    zalo_listen_host: str = "127.0.0.1"
    zalo_listen_port: int = Field(8088, ge=0, le=65535)

    # The public web pages and Atom feeds (web/): off unless WEB_ADDR ("host:port") is set.
    # WEB_PREFIX is the path they are served under ("/loa"; a proxy that strips it may say so in
    # X-Forwarded-Prefix instead); chat links to them are PUBLIC_BASE_URL + WEB_PREFIX + path.
    web_addr: str = ""
    web_prefix: str = ""
    # A page or feed that takes longer than this is answered "try again later" (503).
    web_timeout_seconds: float = Field(5.0, gt=0, le=60)

    # Delivery (the outbox sender): how often an idle sender looks for due rows; how long a row
    # may stay claimed without its sender renewing the claim (a crashed sender's rows are then
    # taken over); attempts for timeouts and 5xx, whose waits double from the base.
    delivery_poll_seconds: float = Field(1.0, gt=0)
    delivery_claim_timeout_seconds: float = Field(120.0, gt=0)
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_retry_base_seconds: float = Field(5.0, gt=0)

    # Several instances on one PostgreSQL (README "Running several instances"): the leader of
    # a chat channel (updates and sending) holds a lease this long and renews it every third
    # of it, so a dead leader is replaced within about 4/3 of it. A source being polled stays
    # claimed by its poller this long at most. A chat update taken but never handled (its
    # taker died) is taken again after LEADER_LEASE_SECONDS.
    leader_lease_seconds: float = Field(15.0, gt=0, le=600)
    source_claim_seconds: float = Field(60.0, gt=0)
    # Retention (delivery.retention), a daily job at this local hour: finished outbox rows and
    # the record of what was given are deleted after this many days (later when digests still
    # need them; sent instant alerts after a day, sent daily digests after 14 days), in
    # batches of this many rows; items are deleted after ITEM_ARCHIVE_DAYS (0: kept for ever).
    retention_days: int = Field(30, ge=1)
    retention_hour: int = Field(3, ge=0, le=23)
    retention_batch_size: int = Field(5000, ge=100, le=10_000)
    item_archive_days: int = Field(0, ge=0)

    # Classification: an instant alert needs every label that decided it to score at least this
    # (0..1); weaker matches wait for the chat's next digest, marked as lower-confidence.
    instant_min_score: float = Field(0.75, ge=0.0, le=1.0)

    # Chat: commands (and button presses) one person may send per minute, on every channel.
    command_flood_per_minute: int = Field(20, ge=1)

    # Health and metrics server (/healthz, /metrics) as host:port, e.g. 127.0.0.1:9464; empty: off.
    metrics_addr: str = ""

    log_level: str = "INFO"
    # text: one classic line per event; json: one JSON object per line (time, level, logger,
    # event, and source_id, chat, item_id where there is one).
    log_format: Literal["text", "json"] = "text"
    # Everything logged also goes here (redacted), and so does the traceback of a crash; empty
    # means stderr only. Its directory must exist.
    log_file: str = "./data/loa.log"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, (int, float)):
            return [str(int(value))]
        return value

    @field_validator("admin_ids")
    @classmethod
    def _channel_ids(cls, value: list[str]) -> list[str]:
        for entry in value:
            channel, user_key = _admin_entry(entry)
            if channel not in CHANNELS:
                raise ValueError(f"{entry!r}: the channel must be one of {', '.join(CHANNELS)}")
            if not user_key or any(ch.isspace() or not ch.isprintable() for ch in user_key):
                raise ValueError(f"{entry!r} has no usable id")
            if channel == "telegram" and not user_key.lstrip("-").isdigit():
                hint = f" (write zalo:{entry} for a Zalo id)" if ":" not in entry else ""
                raise ValueError(f"{entry!r} is not a Telegram id{hint}")
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url", "zalo_api_base_url",
                     "public_base_url")
    @classmethod
    def _url(cls, value: str | None, info: ValidationInfo) -> str | None:
        bot_path = info.field_name != "public_base_url"  # the others get the token appended
        problem = check_base_url(value or "", bot_path=bot_path) if value or bot_path else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("web_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        value = value.rstrip("/")
        if value and not _PATH_PREFIX.fullmatch(value):
            raise ValueError("must be a path such as /loa (letters, digits, '.', '_', '~', '-')")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value() if value is not None else ""
        if token and not _TELEGRAM_TOKEN.fullmatch(token):
            raise ValueError("is not a Telegram bot token (digits, ':', then letters, digits, "
                             "'_' or '-')")
        return value

    @field_validator("zalo_bot_token", "zalo_webhook_secret")
    @classmethod
    def _printable_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and any(ch.isspace() or not ch.isprintable()
                                     for ch in value.get_secret_value()):
            raise ValueError("must not contain spaces or control characters")
        return value

    @field_validator("metrics_addr", "web_addr")
    @classmethod
    def _listen_addr(cls, value: str) -> str:
        if value:
            listen_addr(value)  # raises ValueError naming what is wrong
        return value

    @field_validator("log_file")
    @classmethod
    def _log_dir_exists(cls, value: str) -> str:
        value = str(ROOT / value) if value else value  # an absolute path stays as it is
        if value and not Path(value).parent.is_dir():
            raise ValueError(f"the directory {str(Path(value).parent)!r} does not exist")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_db(cls, value: str) -> str:
        """A URL we can open; never echoed, as it may hold the password."""
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("is not a database URL (sqlite:///path or postgresql://…)") from None
        if url.drivername not in _DRIVERS:
            raise ValueError(f"unknown driver {url.drivername!r}: use sqlite:///path or "
                             "postgresql://user@host/db")
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            path = ROOT / url.database  # relative to the project root, not the working directory
            if not path.parent.is_dir():  # a typo would otherwise start an empty database elsewhere
                raise ValueError(f"the directory {str(path.parent)!r} does not exist")
            return url.set(database=str(path)).render_as_string(hide_password=False)
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @model_validator(mode="after")
    def _interval_not_below_minimum(self) -> Settings:
        if self.poll_interval_seconds < self.poll_min_interval_seconds:
            raise ValueError(
                "POLL_INTERVAL_SECONDS must not be below POLL_MIN_INTERVAL_SECONDS"
                f" ({self.poll_interval_seconds} < {self.poll_min_interval_seconds})"
            )
        return self

    @model_validator(mode="after")
    def _items_outlive_deliveries(self) -> Settings:
        if self.item_archive_days and self.item_archive_days < self.retention_days:
            raise ValueError("ITEM_ARCHIVE_DAYS must be 0 (never) or at least RETENTION_DAYS"
                             f" ({self.item_archive_days} < {self.retention_days})")
        return self

    @model_validator(mode="after")
    def _paid_broadcast_for_high_rates(self) -> Settings:
        if self.telegram_global_per_second > 30 and not self.telegram_allow_paid_broadcast:
            raise ValueError(
                "TELEGRAM_GLOBAL_PER_SECOND above 30 needs TELEGRAM_ALLOW_PAID_BROADCAST=true"
            )
        return self

    @model_validator(mode="after")
    def _zalo_webhook_complete(self) -> Settings:
        secret = self.zalo_webhook_secret.get_secret_value() if self.zalo_webhook_secret else ""
        if secret and not 8 <= len(secret) <= 256:
            raise ValueError("ZALO_WEBHOOK_SECRET must be 8 to 256 characters")
        if self.zalo_mode == "webhook" and not (secret and self.public_base_url):
            raise ValueError("ZALO_MODE=webhook needs ZALO_WEBHOOK_SECRET and PUBLIC_BASE_URL")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def database_shown(self) -> str:
        """DATABASE_URL as it may be printed: the password masked, the query (which may carry
        one) left out."""
        url = make_url(self.database_url)
        return url.set(query={}).render_as_string(hide_password=True)

    def secrets(self) -> list[str]:
        """Values that must never reach a log line: the tokens, the webhook secret, the pseudonym
        key and the database password (logs.Redactor also hides their halves and URL-encoded
        forms)."""
        found = [self.telegram_bot_token, self.zalo_bot_token, self.zalo_webhook_secret,
                 self.audit_pseudonym_key]
        values = [s.get_secret_value() for s in found if s and s.get_secret_value()]
        password = make_url(self.database_url).password
        if password:
            values.append(str(password))
        return values

    def admin_keys(self, channel: str) -> set[str]:
        """The ids ADMIN_IDS names on `channel`: the one place ADMIN_IDS is read. Ids are per
        channel ("zalo:42" is not "telegram:42"); a bare number is a Telegram id."""
        return {key for where, key in map(_admin_entry, self.admin_ids) if where == channel}

    def is_admin(self, channel: str, user_key: str) -> bool:
        """Whether ADMIN_IDS names this person (services.users.is_admin adds granted admins)."""
        return str(user_key) in self.admin_keys(channel)


def listen_addr(value: str) -> tuple[str, int]:
    """("127.0.0.1", 9464) for "127.0.0.1:9464"; an IPv6 host is written in brackets
    ("[::1]:9464"). Raises ValueError when it is not host:port."""
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535 \
            or any(ch.isspace() or ch in "/@?#" for ch in host):
        raise ValueError("must be host:port, e.g. 127.0.0.1:9464")
    return host, int(port)


def _admin_entry(entry: str) -> tuple[str, str]:
    """("zalo", "ab12") for "zalo:ab12"; a bare id is on BARE_ID_CHANNEL."""
    channel, sep, user_key = entry.partition(":")
    return (channel.strip().lower(), user_key.strip()) if sep else (BARE_ID_CHANNEL, entry.strip())


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a bad one raises ConfigError with a single line naming it."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err.get("loc") else "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        if name == "SETTINGS" or not err.get("loc"):
            raise ConfigError(f"invalid configuration: {message}") from None
        raise ConfigError(f"invalid setting {name}: {message}") from None
