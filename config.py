"""Loa's settings: read once at start from the environment or `.env`, then passed down.

No other module reads the environment. Every setting is documented in `.env.example`.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line that names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

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

    # Delivery (the outbox sender): how often an idle sender looks for due rows; how long a row
    # may stay claimed without its sender renewing the claim (a crashed sender's rows are then
    # taken over); attempts for timeouts and 5xx, whose waits double from the base.
    delivery_poll_seconds: float = Field(1.0, gt=0)
    delivery_claim_timeout_seconds: float = Field(120.0, gt=0)
    delivery_max_attempts: int = Field(8, ge=1)
    delivery_retry_base_seconds: float = Field(5.0, gt=0)

    # Classification: an instant alert needs every label that decided it to score at least this
    # (0..1); weaker matches wait for the chat's next digest, marked as lower-confidence.
    instant_min_score: float = Field(0.75, ge=0.0, le=1.0)

    # Chat: commands (and button presses) one person may send per minute, on every channel.
    command_flood_per_minute: int = Field(20, ge=1)

    log_level: str = "INFO"

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, (int, float)):
            return [str(int(value))]
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
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must start with sqlite:// or postgresql://")
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

    def secrets(self) -> list[str]:
        """Values that must never reach a log line."""
        found = [self.telegram_bot_token, self.zalo_bot_token, self.zalo_webhook_secret]
        return [s.get_secret_value() for s in found if s and s.get_secret_value()]

    def is_admin(self, user_id: str) -> bool:
        return str(user_id) in self.admin_ids


def load_settings(**overrides: object) -> Settings:
    """Read the settings; a bad one raises ConfigError with a single line naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err.get("loc") else "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        if name == "SETTINGS" or not err.get("loc"):
            raise ConfigError(f"invalid configuration: {message}") from None
        raise ConfigError(f"invalid setting {name}: {message}") from None
