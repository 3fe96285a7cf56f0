"""Logging set-up, with every secret redacted before a record is written.

httpx logs request URLs, and Telegram's and Zalo's URLs contain the bot token, so redaction is a
filter on the handlers: it covers every logger, at every level, including third-party ones. The
same `Redactor` cleans the one line `bot.py` prints when a command crashes, whose traceback goes
to LOG_FILE only.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote, quote_plus

from config import ConfigError

REDACTED = "<redacted>"
# Shorter values are not hidden: replacing every "ab" would make the logs unreadable.
MIN_SECRET_CHARS = 4
# A token's secret half (after the ':') is hidden on its own from this length on.
MIN_HALF_CHARS = 8
# Bot tokens as they appear in Bot API URLs, even ones we were not told about.
_TOKEN_SHAPES = re.compile(r"(bot)\d{5,}(?::|%3A)[A-Za-z0-9_-]{20,}", re.IGNORECASE)
CRASH_LOGGER = "loa.crash"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a record may carry through `extra=`, copied into a JSON line under the same name.
CONTEXT_FIELDS = ("source_id", "chat", "item_id")


def _forms(secret: str) -> set[str]:
    """The ways `secret` can be written into a URL, a repr or a JSON string."""
    forms = {secret, quote_plus(secret), quote_plus(secret, safe=":"), json.dumps(secret)[1:-1],
             repr(secret)[1:-1]}
    for safe in ("", ":", "/", ":/"):
        forms.add(quote(secret, safe=safe))
    return forms


class Redactor:
    """Replaces every configured secret in a text: whole, its secret half (the part after the
    first ':', as in a Telegram token) and their URL-encoded, JSON and repr forms. Matching
    ignores case, so %2f and %2F are both caught."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: set[str] = set()
        for secret in secrets:
            forms |= _forms(secret)
            _, sep, half = secret.partition(":")
            if sep and len(half) >= MIN_HALF_CHARS:
                forms |= _forms(half)
        longest_first = sorted((f for f in forms if len(f) >= MIN_SECRET_CHARS), key=len,
                               reverse=True)
        self._pattern = (re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE)
                         if longest_first else None)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return _TOKEN_SHAPES.sub(rf"\1{REDACTED}", text)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] | Redactor) -> None:
        super().__init__()
        self.redact = secrets if isinstance(secrets, Redactor) else Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def _local_time(record: logging.LogRecord) -> str:
    """ISO 8601 with milliseconds and the UTC offset (2026-12-05T13:20:01.123+07:00)."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """The classic line, its time carrying the zone."""

    def __init__(self) -> None:
        super().__init__(_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _local_time(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event (the message), the context fields
    a record carries (CONTEXT_FIELDS) and, for an exception, its traceback. The whole line goes
    through the redactor as well, so a secret in an `extra=` value is hidden too."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {"time": _local_time(record), "level": record.levelname,
                                   "logger": record.name, "event": record.getMessage()}
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value if isinstance(value, int) else str(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return self.redact(json.dumps(line, ensure_ascii=False))


def setup_logging(level: str = "INFO", secrets: Iterable[str] = (),
                  log_file: str = "", log_format: str = "text") -> Redactor:
    """Log to stderr and, when given, to `log_file`, both redacted, as text lines or JSON
    (`log_format`, LOG_FORMAT); return the redactor. A crash's traceback (`log_crash`) goes to
    the file only. Raises ConfigError naming LOG_FILE when the file cannot be opened."""
    redactor = Redactor(secrets)
    formatter = JsonFormatter(redactor) if log_format == "json" else TextFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"invalid setting LOG_FILE: cannot write to it ({exc.strerror})") \
                from None
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    crash = logging.getLogger(CRASH_LOGGER)
    crash.handlers[:] = handlers[1:]
    crash.propagate = False
    # A failing handler would print the record's traceback unfiltered to stderr.
    logging.raiseExceptions = False
    logging.captureWarnings(True)  # warnings are logged, so they are redacted too
    threading.excepthook = _log_thread_crash
    # Request lines are noise at INFO; they are still redacted if someone turns them on.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return redactor


def quiet_stderr() -> None:
    """Only warnings and errors on stderr; the log file still gets everything. For the console
    channel, whose conversation shares the terminal."""
    for handler in logging.getLogger().handlers:
        if not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.WARNING)


def log_crash(exc: BaseException) -> bool:
    """Write `exc`'s traceback, redacted, to the log file; False when there is no log file."""
    crash = logging.getLogger(CRASH_LOGGER)
    if not crash.handlers:
        return False
    crash.critical("crashed: %s", type(exc).__name__, exc_info=exc)
    return True


def _log_thread_crash(args: threading.ExceptHookArgs) -> None:
    # Python's default hook prints the traceback to stderr, unredacted.
    exc_info = (args.exc_type, args.exc_value, args.exc_traceback) if args.exc_value else None
    logging.getLogger(__name__).error("thread %s crashed", getattr(args.thread, "name", "?"),
                                      exc_info=exc_info)
