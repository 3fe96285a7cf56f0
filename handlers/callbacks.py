"""Button data: a compact `action:arg:arg` text of at most 64 bytes (Telegram's limit).

Every action has a fixed list of argument patterns, checked on the way out and on the way back in:
data that does not fit (forged, or from an older version of the bot) raises `BadCallback`, and the
router answers it politely. Data never grants anything by itself: handlers re-check who may act and
that the thing it names still exists and belongs to the chat (a stale button).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64

_NONCE = r"[A-Za-z0-9]{4,8}"  # ties a button to one dialogue, search or confirmation
_ID = r"[0-9]{1,12}"
_SPECS: dict[str, tuple[str, ...]] = {
    # picker step (onboarding or editing a subscription): nonce, operation, value
    "pk": (_NONCE, r"p|t|pg|ok|all|m|h|w|x", r"[a-z0-9-]{0,32}"),
    # a /list row: operation on one subscription
    "ls": (r"pa|re|dl|rm", _ID),
    # delivery choice: target (subscription id, or "all"), mode, hour or "-", weekday or "-"
    "dl": (rf"{_ID}|all", r"instant|daily|weekly|off", r"[0-9]{1,2}|-", r"[0-6]|-"),
    # fixing what /sub understood: subscription id, operation
    "sf": (_ID, r"p|t|k|rm"),
    # search results page: search nonce, page
    "sr": (_NONCE, r"[0-9]{1,4}"),
    # a pending confirmation (/stop, /broadcast): nonce, yes or no
    "cf": (_NONCE, r"y|n"),
    "lg": (r"vi|en",),
}
_COMPILED = {action: tuple(re.compile(p) for p in pats) for action, pats in _SPECS.items()}


class BadCallback(ValueError):
    """Button data that this bot did not make, or no longer understands."""


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[str, ...]


def _check(action: str, args: tuple[str, ...]) -> None:
    patterns = _COMPILED.get(action)
    if patterns is None:
        raise BadCallback(f"unknown action {action!r}")
    if len(args) != len(patterns):
        raise BadCallback(f"{action}: expected {len(patterns)} arguments, got {len(args)}")
    for pattern, arg in zip(patterns, args, strict=True):
        if not pattern.fullmatch(arg):
            raise BadCallback(f"{action}: bad argument {arg!r}")


def encode(action: str, *args: object) -> str:
    parts = tuple(str(a) for a in args)
    _check(action, parts)
    data = ":".join((action, *parts))
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise BadCallback(f"{action}: {len(data.encode())} bytes is over {MAX_BYTES}")
    return data


def decode(data: str | None) -> Callback:
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        raise BadCallback("empty or too long")
    action, *args = data.split(":")
    _check(action, tuple(args))
    return Callback(action, tuple(args))
