"""Logging set-up, with every secret redacted before a record is written.

httpx logs request URLs, and Telegram's and Zalo's URLs contain the bot token, so redaction is a
filter on the handler: it covers every logger, at every level, including third-party ones.
"""

from __future__ import annotations

import logging
import re

# Bot tokens as they appear in Bot API URLs, even ones we were not told about.
_TOKEN_SHAPES = re.compile(r"(bot)\d{5,}:[A-Za-z0-9_-]{20,}")


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return _TOKEN_SHAPES.sub(r"\1<redacted>", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def setup_logging(level: str = "INFO", secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A failing handler would print the record's traceback unfiltered to stderr.
    logging.raiseExceptions = False
    # Request lines are noise at INFO; they are still redacted if someone turns them on.
    for noisy in ("httpx", "httpcore", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
