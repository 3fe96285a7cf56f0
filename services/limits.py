"""Input limits, in one place: what characters are refused or stripped, how long each field may
be, what a person's id looks like on each channel, and the range of numbers.

They are applied before anything is stored or queried, so SQLite and PostgreSQL see the same
clean values: PostgreSQL answers a NUL in text, a value too long for its column or an integer out
of range with an internal error, where SQLite would store or compare it. Typed commands with a
control character are refused with a clear line; names the platform gives us (display names,
chat titles) have them stripped, since their owner cannot be asked to retype them.
"""

from __future__ import annotations

import re
import unicodedata

from services.errors import Refusal, ServiceError

# A whole typed message: Telegram's own limit, and far above anything a command needs.
MAX_MESSAGE_CHARS = 4096
# Display names, chat titles, subscription phrases and source names: their columns' width.
MAX_NAME_CHARS = 256
# Search queries (/search, /latest): a longer one is a pasted paragraph, not a query.
MAX_QUERY_CHARS = 256
# Platform ids of people and chats: their columns' width.
MAX_KEY_CHARS = 64
# PostgreSQL's `integer`, the type of every id but an item's (`bigint`).
MAX_ROW_ID = 2**31 - 1
# How much of a refused value a reply shows.
SHOWN_CHARS = 40

# Line breaks and tabs are ordinary in a typed message (a broadcast has several lines); every other
# control character (category Cc: NUL, ESC, DEL, C1) and lone surrogates (Cs, from a JSON "\ud800",
# which neither database can encode) are not text. Unicode never changes either set (Cc is
# U+0000-U+001F and U+007F-U+009F, Cs U+D800-U+DFFF): one character class, scanned in C, instead
# of a category lookup per character in Python (tests/test_input_limits.py checks it).
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACED = str.maketrans("\t\n\r", "   ")

# A person's id as the platform gives it: Telegram users are positive numbers (at most 52
# significant bits, said Telegram); Zalo ids are opaque letters and digits; the console's person
# is "local".
_PERSON_ID = {
    "telegram": re.compile(r"[1-9][0-9]{0,15}"),
    "zalo": re.compile(r"[0-9A-Za-z_-]{1,64}"),
    "console": re.compile(r"[0-9A-Za-z_.-]{1,64}"),
}
CHANNELS = tuple(_PERSON_ID)
# Any chat or person id an adapter hands over: printable ASCII, no spaces ("-100123", "ab12").
_PLATFORM_KEY = re.compile(rf"[!-~]{{1,{MAX_KEY_CHARS}}}")


def has_bad_characters(text: str) -> bool:
    return _BAD.search(text) is not None


def check_text(text: str, limit: int) -> str:
    """`text` as given, when it has no refused character and at most `limit` characters; else
    a ServiceError with the user's line (codes bad_characters, too_long)."""
    if has_bad_characters(text):
        raise ServiceError(Refusal.BAD_CHARACTERS, f"control character in '{shown(text)}'")
    if len(text) > limit:
        raise ServiceError(Refusal.TOO_LONG, f"{len(text)} characters, over the limit of {limit}",
                           limit=limit)
    return text


def clean_name(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """A name from the platform, made storable: line breaks and tabs become spaces, other control
    characters and lone surrogates go, and it is cut to `limit` characters."""
    text = _BAD.sub("", text).translate(_SPACED)
    return " ".join(text.split())[:limit]


def platform_key_ok(key: str) -> bool:
    """Whether a chat or person id from an adapter can be stored as one."""
    return bool(_PLATFORM_KEY.fullmatch(key))


def person_ref(ref: str, channel: str) -> tuple[str, str]:
    """ "12345" (on `channel`, the asker's) or "zalo:ab12" → (channel, id): how admins name
    people in /grant, /revoke and `bot.py admin`. The id itself is checked by services.users."""
    prefix, sep, key = ref.strip().partition(":")
    if sep and prefix.lower() in CHANNELS and key:
        return prefix.lower(), key
    return channel, ref.strip()


def person_id_ok(channel: str, key: str) -> bool:
    """Whether `key` has the shape of a person's id on `channel`."""
    pattern = _PERSON_ID.get(channel)
    return bool(pattern and pattern.fullmatch(key))


def row_id(text: str, limit: int = MAX_ROW_ID) -> int | None:
    """A positive whole number that can be the id of a row, or None: "0042" → 42, "2**31" → None."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        return None
    number = int(text)
    return number if 1 <= number <= limit else None


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """A value someone typed, as a reply may show it: what is invisible or misleading (controls,
    zero-width and direction marks) becomes a visible \\u escape, and it is cut to `limit`."""
    out = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c)[0] in "CZ" and c != " " else c
                  for c in text[:limit])
    return out + ("…" if len(text) > limit else "")
