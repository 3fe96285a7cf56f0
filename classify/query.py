"""Reading what users type: a subscription or search phrase, or a province to pick.

Users type lowercase, with or without marks ("nha dai doan ket an giang"), so unlike news text
casing proves nothing here. A phrase is read, longest match first, as:
- provinces: any province name, former province name or common variant;
- regions ("miền Trung", "Tây Nguyên"; data/regions.toml): their current provinces;
- topics: a topic's names (data/topic_rules.toml `names`) or a common word for it
  ("lũ lụt", "bão"; data/query_words.toml);
- connectors ("ở", "tại"; data/gazetteer.context.toml) and fillers ("tin"): dropped;
- every other word stays a keyword, spelled as typed ("xóa nhà tạm").
Names of places and topics match folded. Short words do not: in a phrase typed with marks, a
topic word or a connector must be typed with its own marks ("báo cáo" is not "bão", "tai nạn"
keeps "tai", "ô tô" keeps "ô"); in a phrase typed without any marks they match folded, and a
connector is dropped only next to a place or a topic ("tai nan" stays, "o ha noi" is Hà Nội).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalog import province_name, provinces
from catalog import topics as catalog_topics
from classify.evidence import Evidence, EvidenceKind
from classify.gazetteer import CONTEXT_FILE, PROVINCE_LEVEL, Place, get_gazetteer
from classify.textmap import fold_for_match, match_key, prepare
from classify.topics import get_topic_rules
from vntext import fold, normalize

MAX_WORDS = 8  # longest name we look for, in words
DATA = Path(__file__).resolve().parent.parent / "data"
QUERY_WORDS_FILE = DATA / "query_words.toml"
REGIONS_FILE = DATA / "regions.toml"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Region:
    slug: str
    name: str  # how it is shown: its first name in data/regions.toml
    provinces: tuple[str, ...]  # current codes, in catalogue order


@dataclass
class ParsedPhrase:
    topics: list[str] = field(default_factory=list)  # slugs
    provinces: list[str] = field(default_factory=list)  # current codes, regions' included
    keywords: str = ""  # the leftover words as typed (normalised); fold them to store or match
    evidence: list[Evidence] = field(default_factory=list)
    regions: list[tuple[str, Region]] = field(default_factory=list)  # (as typed, region)


@dataclass
class _Vocabulary:
    topics: dict[str, str]  # folded topic name → slug
    topic_words: dict[str, dict[str, str]]  # folded word → {exact lowercase form → slug}
    regions: dict[str, Region]  # folded region name → region
    places: dict[str, Place]  # folded province-level name → its reading
    districts: dict[str, list[Place]]  # folded district or landmark name → readings
    blocked: frozenset[str]  # "bia hà nội": a keyword, not a province
    connectors: dict[str, frozenset[str]]  # folded → exact lowercase forms
    fillers: dict[str, frozenset[str]]


def exact_key(text: str) -> str:
    """Lowercase words with their marks, punctuation dropped: how exact forms are compared."""
    return " ".join(_WORD.findall(normalize(text).lower()))


def _forms(words: Iterable[str]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for word in words:
        found.setdefault(fold_for_match(word), set()).add(exact_key(word))
    return {key: frozenset(forms) for key, forms in found.items()}


def load_regions(path: Path = REGIONS_FILE) -> dict[str, Region]:
    """Regions by slug, each with the current provinces of its former ones (see the file)."""
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    current = {normalize(name): code for code, province in provinces().items()
               for _, name in province.former}
    order = list(provinces())

    def codes(slug: str, seen: tuple[str, ...] = ()) -> set[str]:
        if slug in seen or slug not in data:
            raise ValueError(f"{path.name}: region {slug!r} is unknown or includes itself")
        entry = data[slug]
        found = set()
        for name in entry.get("former", []):
            if normalize(name) not in current:
                raise ValueError(f"{path.name}: [{slug}] unknown former province {name!r}")
            found.add(current[normalize(name)])
        for other in entry.get("include", []):
            found |= codes(other, (*seen, slug))
        return found

    return {slug: Region(slug, normalize(entry["names"][0]),
                         tuple(sorted(codes(slug), key=order.index)))
            for slug, entry in data.items()}


@lru_cache(maxsize=1)
def _vocabulary() -> _Vocabulary:
    gaz = get_gazetteer()
    topics: dict[str, str] = {}
    for key, refs in get_topic_rules().phrases.items():
        for ref in refs:
            if ref.role == "name":
                topics.setdefault(key, ref.slug)
    words = tomllib.loads(QUERY_WORDS_FILE.read_text(encoding="utf-8"))
    topic_words: dict[str, dict[str, str]] = {}
    for slug, entries in words["topic_words"].items():
        if slug not in catalog_topics():
            raise ValueError(f"{QUERY_WORDS_FILE.name}: unknown topic {slug!r}")
        for word in entries:
            topic_words.setdefault(fold_for_match(word), {})[exact_key(word)] = slug
    regions: dict[str, Region] = {}
    data = tomllib.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    for slug, region in load_regions().items():
        for name in data[slug]["names"]:
            regions[fold_for_match(name)] = region
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
    return _Vocabulary(topics, topic_words, regions, places, districts, gaz.blocked,
                       _forms(query["connectors"]), _forms(words["fillers"]["words"]))


def _words(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The typed text and its words as spans of it. Users type punctuation loosely
    ("bà rịa - vũng tàu"), so unlike in news text a name may run across it."""
    prep = prepare(text, "")
    spans = [prep.span(m.start(), m.end()) for m in re.finditer(r"[^ ]+", prep.folded)]
    return prep.text[: prep.title_end], spans


LABEL, CONNECTOR, FILLER, WORD = "label", "connector", "filler", "word"
GUESS = "guess"  # a one-word topic word typed without marks: "bao" may be "báo" as well as "bão"


@dataclass
class _Segment:
    kind: str
    words: range  # word indices
    quote: str  # as typed
    label: Region | Place | str | None = None  # what a LABEL or GUESS reads as (str: a slug)


def parse_phrase(text: str) -> ParsedPhrase:
    """"nhà đại đoàn kết an giang" → topics ["nha-dai-doan-ket"], provinces ["91"], keywords "";
    "lũ lụt miền Trung" → topics ["thien-tai-cuu-tro"], the provinces of miền Trung."""
    vocab = _vocabulary()
    typed, spans = _words(text)
    keys = [match_key(typed[a:b]) for a, b in spans]
    marked = fold(typed) != normalize(typed).lower()  # typed with marks: short words need theirs
    segments: list[_Segment] = []
    i = 0
    while i < len(spans):
        for n in range(min(MAX_WORDS, len(spans) - i), 0, -1):
            quote = typed[spans[i][0] : spans[i + n - 1][1]]
            found = _read(vocab, " ".join(keys[i : i + n]), quote, marked)
            if found is None:
                continue
            segments.append(_Segment(found[0], range(i, i + n), quote, found[1]))
            i += n
            break
        else:
            segments.append(_Segment(WORD, range(i, i + 1), typed[spans[i][0] : spans[i][1]]))
            i += 1
    for index, segment in enumerate(segments):
        if segment.kind == GUESS:
            # Among other keywords it is a keyword too ("bao cao tai chinh").
            near = [segments[j].kind for j in (index - 1, index + 1) if 0 <= j < len(segments)]
            segment.kind = WORD if WORD in near else LABEL
    result = ParsedPhrase()
    kept: list[int] = []
    for index, segment in enumerate(segments):
        if segment.kind == LABEL:
            _add_label(result, segment)
        elif segment.kind == WORD or (segment.kind == CONNECTOR
                                      and not _drop_connector(segments, index, marked)):
            kept.extend(segment.words)
    result.keywords = " ".join(typed[spans[j][0] : spans[j][1]] for j in kept)
    return result


def _read(vocab: _Vocabulary, key: str, quote: str,
          marked: bool) -> tuple[str, Region | Place | str | None] | None:
    """What the words `key` (typed as `quote`) are as a whole, and their label; None when
    they are nothing as a whole."""
    region = vocab.regions.get(key)  # before `blocked`: news text reads a region as no place
    if region:
        return LABEL, region
    if key in vocab.blocked:
        return WORD, None
    slug = vocab.topics.get(key)
    if slug:
        return LABEL, slug
    slug = _exact(vocab.topic_words.get(key), quote, marked)
    if slug:
        return (GUESS if not marked and " " not in key else LABEL), slug
    place = vocab.places.get(key)
    if place:
        return LABEL, place
    for kind, table in ((FILLER, vocab.fillers), (CONNECTOR, vocab.connectors)):
        forms = table.get(key)
        if forms and (not marked or exact_key(quote) in forms):
            return kind, None
    return None


def _add_label(result: ParsedPhrase, segment: _Segment) -> None:
    label, quote = segment.label, segment.quote
    if isinstance(label, Region):
        result.regions.append((quote, label))
        result.provinces.extend(c for c in label.provinces if c not in result.provinces)
        result.evidence.append(Evidence(EvidenceKind.REGION, label.slug, quote,
                                        f'"{quote}" → {label.name}: '
                                        f"{', '.join(label.provinces)}"))
    elif isinstance(label, Place):
        if label.code not in result.provinces:
            result.provinces.append(label.code)
        result.evidence.append(Evidence(EvidenceKind.PROVINCE, label.code, quote,
                                        label.chain(quote)))
    elif label is not None:
        if label not in result.topics:
            result.topics.append(label)
        result.evidence.append(Evidence(EvidenceKind.TOPIC, label, quote,
                                        f'"{quote}" → {label} '
                                        f"({catalog_topics()[label].name_vi})"))


def _exact(forms: dict[str, str] | None, quote: str, marked: bool) -> str | None:
    """The slug of a topic word typed as `quote`: with its own marks when the phrase has any."""
    if not forms:
        return None
    if marked:
        return forms.get(exact_key(quote))
    return next(iter(forms.values()))


def _drop_connector(segments: list[_Segment], index: int, marked: bool) -> bool:
    """A connector typed with its marks is always dropped. Typed without marks it may be a
    content word ("tai nan", "o to"), so it is dropped only in a run of connectors and fillers
    that touches a place or a topic."""
    if marked:
        return True
    run = {FILLER, CONNECTOR}
    start = end = index
    while start > 0 and segments[start - 1].kind in run:
        start -= 1
    while end + 1 < len(segments) and segments[end + 1].kind in run:
        end += 1
    return ((start > 0 and segments[start - 1].kind == LABEL)
            or (end + 1 < len(segments) and segments[end + 1].kind == LABEL))


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


_CODE = re.compile(r"\d{1,2}")
# What may stand before a province's name without being part of it: "tỉnh An Giang", "TP Huế".
_PROVINCE_TYPE = re.compile(r"(?:tinh|thanh pho|tp)\s+")


def _plain(text: str) -> str:
    """Folded, with hyphens, dots and underscores as spaces: "TP.Hải-Phòng" → "tp hai phong"."""
    return " ".join(re.split(r"[\s\-_.,]+", fold(text))).strip()


def province_code(text: str) -> str | None:
    """The one reader of a single province as people and admins type it, in chat and on the CLI:
    its official code ("1", "01", "31"; the codes run 01 to 96 with gaps), or its name or slug,
    current or former, with or without marks ("Hải Phòng", "hai phong", "hai-phong",
    "tỉnh Thái Bình" → 33). None when the whole of `text` is not one province: "an giang tin"
    is a province and a word, not a province."""
    text = text.strip()
    if _CODE.fullmatch(text):
        return text.zfill(2) if text.zfill(2) in provinces() else None
    parsed = parse_phrase(text)
    if len(parsed.provinces) != 1 or parsed.topics or len(parsed.evidence) != 1:
        return None
    named, typed = _plain(parsed.evidence[0].text), _plain(text)
    if typed != named and _PROVINCE_TYPE.sub("", typed, count=1) != named:
        return None  # a filler word was dropped: it is no part of a province's name
    return parsed.provinces[0]
