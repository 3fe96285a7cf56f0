"""Reading what users type: a subscription phrase, or a province to pick.

Users type lowercase, with or without marks ("nha dai doan ket an giang"), so unlike news text
casing proves nothing here: any province name, former province name or common variant counts,
and a topic counts only through its names (data/topic_rules.toml `names`); every other word
stays a keyword ("xóa nhà tạm" is a keyword subscription).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from catalog import province_name, provinces
from catalog import topics as catalog_topics
from classify.gazetteer import PROVINCE_LEVEL, Place, get_gazetteer
from classify.places import CONTEXT_FILE
from classify.textmap import fold_for_match, match_key, prepare
from classify.topics import get_topic_rules

MAX_WORDS = 8  # longest name we look for, in words


@dataclass
class ParsedPhrase:
    topics: list[str] = field(default_factory=list)  # slugs
    provinces: list[str] = field(default_factory=list)  # current codes
    keywords: str = ""  # the leftover words as typed (normalised); fold them to store or match
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Vocabulary:
    topics: dict[str, str]  # folded topic name → slug
    places: dict[str, Place]  # folded province-level name → its reading
    districts: dict[str, list[Place]]  # folded district or landmark name → readings
    blocked: frozenset[str]  # "bia hà nội": a keyword, not a province
    connectors: frozenset[str]


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    gaz = get_gazetteer()
    topics: dict[str, str] = {}
    for key, refs in get_topic_rules().phrases.items():
        for ref in refs:
            if ref.role == "name":
                topics.setdefault(key, ref.slug)
    places: dict[str, Place] = {}
    districts: dict[str, list[Place]] = {}
    for key, readings in gaz.places.items():
        level = [p for p in readings if p.kind in PROVINCE_LEVEL]
        if level:
            places[key] = level[0]
        lower = [p for p in readings if p.kind in ("district", "landmark") and p.name[:1].isupper()]
        if lower:
            districts[key] = lower
    query = tomllib.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["query"]
    connectors = frozenset(fold_for_match(w) for w in query["connectors"])
    return _Vocabulary(topics, places, districts, gaz.blocked, connectors)


def _words(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The typed text and its words as spans of it. Users type punctuation loosely
    ("bà rịa - vũng tàu"), so unlike in news text a name may run across it."""
    prep = prepare(text, "")
    spans = [prep.span(m.start(), m.end()) for m in re.finditer(r"[^ ]+", prep.folded)]
    return prep.text[: prep.title_end], spans


def parse_phrase(text: str) -> ParsedPhrase:
    """"nhà đại đoàn kết an giang" → topics ["nha-dai-doan-ket"], provinces ["91"], keywords ""."""
    vocab = _vocabulary()
    typed, spans = _words(text)
    keys = [match_key(typed[a:b]) for a, b in spans]
    result = ParsedPhrase()
    leftover: list[int] = []
    i = 0
    while i < len(spans):
        for n in range(min(MAX_WORDS, len(spans) - i), 0, -1):
            key = " ".join(keys[i : i + n])
            quote = typed[spans[i][0] : spans[i + n - 1][1]]
            if key in vocab.blocked:
                leftover.extend(range(i, i + n))
            elif key in vocab.topics:
                slug = vocab.topics[key]
                if slug not in result.topics:
                    result.topics.append(slug)
                result.evidence.append({"kind": "topic", "label": slug, "text": quote,
                                        "resolved": f'"{quote}" → {slug} '
                                                    f"({catalog_topics()[slug].name_vi})"})
            elif key in vocab.places:
                place = vocab.places[key]
                if place.code not in result.provinces:
                    result.provinces.append(place.code)
                result.evidence.append({"kind": "province", "label": place.code, "text": quote,
                                        "resolved": place.chain(quote)})
            else:
                continue
            i += n
            break
        else:
            leftover.append(i)
            i += 1
    words = [typed[spans[j][0] : spans[j][1]] for j in leftover if keys[j] not in vocab.connectors]
    result.keywords = " ".join(words)
    return result


def search_provinces(text: str, limit: int = 10) -> list[tuple[str, str]]:
    """Provinces a user may mean, best first, as (current code, the name that matched).

    "Thái Bình" offers ("33", "Thái Bình") — Thái Bình is part of Hưng Yên today; "thai" offers
    Thái Bình and Thái Nguyên; a district name ("Vũ Thư") offers its province when no province
    name fits.
    """
    vocab = _vocabulary()
    query = fold_for_match(text)
    if not query:
        return []
    found: dict[str, tuple[tuple[int, int, str], str]] = {}

    def offer(code: str, name: str, rank: tuple[int, int, str]) -> None:
        if code not in found or rank < found[code][0]:
            found[code] = (rank, name)

    for key, place in vocab.places.items():
        score = _closeness(query, key)
        if score is not None:
            current = 0 if place.kind == "province" else 1
            offer(place.code, place.name if place.kind != "variant" else province_name(place.code),
                  (score, current, key))
    if not found:
        for key, readings in vocab.districts.items():
            score = _closeness(query, key)
            if score is not None:
                for place in readings:
                    offer(place.code, place.label(), (score, 2, key))
    ordered = sorted(found.items(), key=lambda item: item[1][0])
    return [(code, name) for code, (_, name) in ordered[:limit] if code in provinces()]


def _closeness(query: str, key: str) -> int | None:
    """0 exact, 1 prefix, 2 a word starts with it, 3 contains it; None otherwise."""
    if key == query:
        return 0
    if key.startswith(query):
        return 1
    if f" {query}" in f" {key}":
        return 2
    if len(query) >= 3 and query in key:
        return 3
    return None
