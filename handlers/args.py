"""Typed arguments: what people type instead of pressing a button, in Vietnamese or English,
with or without diacritics (words in data/chat_words.json)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from classify.evidence import EvidenceKind
from classify.query import parse_phrase, province_code
from services.subscriptions import Cadence
from vntext import fold

WORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "chat_words.json"
DEFAULT_HOUR = 7
MAX_REPORT_DAYS = 90

_HOUR = re.compile(r"\b(\d{1,2})(?:\s*(?:h|g|gio)(?:\s*00)?|:00)?\b")
_SPACES = re.compile(r"[\s,;]+")


@lru_cache(maxsize=1)
def words() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(WORDS_FILE.read_text(encoding="utf-8"))
    return data


def folded(text: str) -> str:
    """Folded, with punctuation other than ':' turned into single spaces."""
    return _SPACES.sub(" ", re.sub(r"[^\w:]+", " ", fold(text))).strip()


def is_word(text: str, group: str) -> bool:
    """True when the whole of `text` is one of the words of `group` ("done", "all", "yes")."""
    return folded(text) in words()[group]


def lookup(text: str, group: str) -> str | None:
    """The key of `group` (a dict of key → words) whose words include the whole of `text`."""
    phrase = folded(text)
    return next((key for key, ws in words()[group].items() if phrase in ws), None)


def _take_weekday(phrase: str) -> tuple[int | None, str]:
    # Longest words first, so "thu 2" is taken before "thu" (Thursday).
    candidates = sorted(((w, day) for day, ws in enumerate(words()["weekdays"]) for w in ws),
                        key=lambda pair: -len(pair[0]))
    for word, day in candidates:
        match = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", phrase)
        if match:
            return day, (phrase[:match.start()] + " " + phrase[match.end():]).strip()
    return None, phrase


def parse_delivery(text: str) -> Cadence | None:
    """ "instant" / "ngay", "daily 7" / "hangngay 19h", "weekly mon 7" / "hangtuan thu2 7",
    "off" / "tat". None when it is not a delivery choice; a bad hour raises ServiceError."""
    phrase = folded(text)
    weekday, phrase = _take_weekday(phrase)
    hour = None
    # The last number is the hour ("hang tuan thu 2 7": the weekday went already).
    hours = list(_HOUR.finditer(phrase))
    match = hours[-1] if hours else None
    if match:
        hour = int(match.group(1))
        phrase = (phrase[:match.start()] + " " + phrase[match.end():]).strip()
    mode = next((m for m, ws in words()["modes"].items() if " ".join(phrase.split()) in ws), None)
    if mode is None:
        return None
    if mode in ("instant", "off") and (hour is not None or weekday is not None):
        return None
    return Cadence(mode, DEFAULT_HOUR if hour is None else hour, weekday or 0)


def split_number(text: str) -> tuple[int | None, str]:
    """A leading number and the rest: "2 hangngay 7" → (2, "hangngay 7")."""
    match = re.match(r"\s*#?(\d{1,4})\b\s*(.*)", text, re.S)
    if not match:
        return None, text.strip()
    return int(match.group(1)), match.group(2).strip()


def split_page(text: str) -> tuple[str, int]:
    """A query and its page: "lao cai 2", "lao cai trang 2" or "lao cai page 2" → ("lao cai", 2).
    A number alone, or after "số" ("bão số 3"), belongs to the query."""
    text = text.strip()
    match = re.fullmatch(r"(.*?\S)\s+(\w+)\s+(\d{1,3})", text, re.S)
    if match and folded(match.group(2)) in words()["page_words"]:
        return match.group(1).strip(), max(int(match.group(3)), 1)
    match = re.fullmatch(r"(.*\S)\s+(\d{1,3})", text, re.S)
    if match and folded(match.group(1)).split()[-1] not in words()["number_words"]:
        return match.group(1).strip(), max(int(match.group(2)), 1)
    return text, 1


def parse_days(text: str) -> int | None:
    """A report period in days: "tuan", "month", "hom nay", "3 ngay", "14d". None if not one."""
    key = lookup(text, "periods")
    if key:
        return int(key)
    match = re.fullmatch(r"(\d{1,3})\s*(\w*)", folded(text))
    if match and (not match.group(2) or match.group(2) in words()["day_units"]):
        days = int(match.group(1))
        return days if 1 <= days <= MAX_REPORT_DAYS else None
    return None


def leading_province(text: str) -> tuple[str | None, str]:
    """A province named at the start of `text` (as `province_code` reads one: a code like "33",
    a current or former name, a slug) and the rest, every other word kept:
    "Lào Cai mưa lũ" → ("15", "mưa lũ"), "an giang Tin thu" → ("91", "Tin thu").
    (None, text) when it starts otherwise."""
    words_ = text.split()
    for size in range(min(len(words_), 6), 0, -1):  # the longest name first: "Thành phố Huế"
        code = province_code(" ".join(words_[:size]))
        if code is not None:
            return code, " ".join(words_[size:])
    return None, text.strip()


_CODE = re.compile(r"(?<!\w)\d{1,2}(?!\w)")


def province_mentions(text: str) -> tuple[list[tuple[str, str]], str]:
    """(code, as written) for every province in `text`, by code ("33") or by name or slug,
    current or former ("Thái Bình" → 33 Hưng Yên); and the words that named none."""
    found = [(code, n) for n in _CODE.findall(text) if (code := province_code(n))]
    parsed = parse_phrase(_CODE.sub(" ", text))
    found += [(e.label, e.text) for e in parsed.evidence if e.kind == EvidenceKind.PROVINCE]
    return found, parsed.keywords


def provinces_in(text: str) -> list[str]:
    """Every province in `text`, by code or by name."""
    return list(dict.fromkeys(code for code, _ in province_mentions(text)[0]))
