"""Reading place names in context: which gazetteer matches are the place of the news.

Each rule below comes from real news text; the word lists live in data/gazetteer.context.toml.
- Longer phrases win ("Thái Bình Dương" is the Pacific, not Thái Bình): the caller hands in the
  longest non-overlapping matches, blocked phrases included.
- A place name is capitalised ("hòa bình" is peace); in all-capital text common words need a
  type word.
- Type words ("tỉnh", "huyện", "xã", "TP.", "P.") say the level, and commune names need one.
- Names in a person's name, a road, a licence plate, a club or a company are not places; nor
  are bylines "(Trần Bình, Bình Dương)", places abroad, or teams in sports news.
- Ambiguous names (Châu Thành, Tân Châu) are settled by the province named next to them, the
  other places of the item, the feed's home province and a source line ("Theo Báo Lào Cai").

Speed: the hot paths are hand-written shortcuts (read each span once, quick word tests before
patterns, readings settled once per name), and the module is compiled with mypyc where a
compiler is at hand (classify/native.py): what the shortcuts left was the interpreter's own
overhead, spread over reading every name in its context, which compiled code mostly removes.
Keep it mypy-strict and free of monkey-patching; the source is what runs without a compiler.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, TypeVar

from catalog import province_name
from classify.evidence import Evidence, EvidenceKind
from classify.gazetteer import CONTEXT_FILE, PROVINCE_LEVEL, Gazetteer, Place
from classify.textmap import Prepared, find_sentence_end, marks_form, match_key
from classify.wordgate import BoundedWords, EndWords, WordGate, last_match, matches
from vntext import fold

# Which kinds a type word admits.
TIER_KINDS: Final = {
    "province": frozenset({"province", "former_province", "variant"}),
    "city": frozenset({"province", "former_province", "variant", "landmark", "district"}),
    "district": frozenset({"district", "landmark"}),
    "commune": frozenset({"commune", "former_commune", "landmark"}),
}
REGION: Final = "landmark (region)"  # a land's old name over several provinces: "xứ Nghệ"
LOCAL_KINDS: Final = frozenset({"district", "commune", "former_commune"})  # below a province
COMMUNE_KINDS: Final = frozenset({"commune", "former_commune"})
UNTYPED_KINDS: Final = frozenset({"province", "former_province", "variant", "landmark", "district"})
PASSING_WEIGHT: Final = 0.25
PASSING_COMPARISON: Final = "in passing: a comparison, an example or an origin"
IDENTIFICATION: Final = "in passing: where a person named is from"  # a label when the only place
SEAT: Final = "in passing: an organisation's seat"  # a label when the only place
REFERENCE: Final = "in passing: a neighbour"  # a label when the only place
ROUTE: Final = "in passing: a vehicle's route"  # a label when the only place
FAR: Final = "in passing: a distance from it"  # "cách Hà Nội 300 km": never a label
FAR_KM: Final = 100  # a distance from a place of more than this is no nearness
# The distance after a name that "cách" opens: "470km", "khoảng 1.070 km", "20 hải lý".
_DISTANCE: Final = re.compile(
    r"\s*(?:khoảng|chừng|hơn|gần|trên|ngót|xấp xỉ)?\s*(\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?\s*"
    r"(km|ki-lô-mét|cây số|hải lý)(?!\w)", re.IGNORECASE)
_NAUTICAL_M: Final = 1852
# Characters between a vehicle (or a plate number) and where its route's first end is named:
# "ô tô khách loại 52 chỗ chở nhiều người đi trên quốc lộ 20 hướng từ TP Đà Lạt" needs 63.
_CLAUSE_GAP: Final = 80
INSTITUTION: Final = "an institution's name: a label only alone"
ALONE_OK: Final = frozenset({"", INSTITUTION, IDENTIFICATION, SEAT, REFERENCE, ROUTE})  # labels
# What a name right after the words of these lists (data/gazetteer.context.toml [passing]) is.
ALONE_BEFORE: Final = {"residence": IDENTIFICATION, "seat": SEAT, "reference": REFERENCE}
ORGANISATION: Final = "club or company name"
# "thắng trên sân Hà Tĩnh": the home ground of the team named after the province, a club's name
TEAM_GROUND: Final = "in passing: a team's home ground"
PERSON: Final = "part of a person's name"
# What a name right after these words is part of (data/gazetteer.context.toml [passing]).
NAMED_AFTER: Final = {"outlet": "in passing: an outlet's name",
               "infrastructure": "in passing: a road's, a line's or a plant's name",
               "institution": INSTITUTION}
INSTITUTION_LANDMARKS: Final = frozenset({"landmark (hospital)", "landmark (university)"})
PASSING_ONLY_SCORE: Final = 0.8  # an institution's name, the only place named (89 % right on dev)
HOME_SCORE: Final = 0.7  # the feed's home province, for a unit named without a name
NEAR: Final = 60  # folded characters within which a following province settles an ambiguous name
_CLAUSE_END: Final = re.compile(r"[,;:!?()\[\]\"“”\n–—]|\.\s")
_WORD: Final = re.compile(r"\w+")
_PERSON_TITLES: Final = ("đbqh", "đại biểu", "ông", "bà", "anh", "chị")
_AFTER_TITLE: Final = tuple(f" {title}" for title in _PERSON_TITLES)  # a whole word before
_OPENING_QUOTES: Final = ("“", "‘", "'", '"', "«")
_CLOSING_QUOTES: Final = ("”", "’", "»")
_SPOUSE: Final = frozenset({"bà", "ông"})  # "bà xã Phan Hiển" is Phan Hiển's wife, no commune
# The lists of phrases read right before every name (PhrasesBefore), by name.
SPOUSE, NOT_PLACE, COMPARISON, ENUMERATION, ALONE, GATEWAY, HOME_GROUND, ROUTE_START, \
    DISTANCE = "spouse", "not place", "comparison", "enumeration", "alone", "gateway", \
    "home ground", "route start", "distance"
# a list, or "(Hà Nội)" after a name
_LIST_GAP: Final = re.compile(r"\s*(?:,|\(|\s(?:và|hay|hoặc))\s*")
_CLAUSE_START: Final = re.compile(r"[.!?:;\n]\s*$")  # a name that opens a sentence is its subject
_RANGE_GAP: Final = re.compile(r"\s*[-–]\s*")  # "Cần Giờ - Gò Công Đông": a route's two ends
_ROAD_END: Final = re.compile(_RANGE_GAP.pattern + r"\w")  # a road's other end after a name
# "các xã", "3 phường", "ba phường"; the words alone, for the quick test (_after_plural)
_PLURAL_WORDS: Final = "các|những|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười"
_PLURAL: Final = re.compile(rf"(?:^|\s)(?:{_PLURAL_WORDS}|\d+)\s+$", re.IGNORECASE)
_PLURAL_WORD: Final = re.compile(_PLURAL_WORDS, re.IGNORECASE)
# "hướng Đồng Nai đi TPHCM": its other end
_ONWARD: Final = re.compile(r"\s+(?:đi|về|tới|đến|sang)\s+")
_LIST_SEP: Final = re.compile(r"\s*(?:,|\s(?:và|, và))\s*")  # between the names of a list
# Inside a person's identification: "Nguyễn Văn Chúc (sinh năm 1998, xã Vĩnh Thành, tỉnh Phú
# Thọ)", "(23 tuổi, Hà Nội)": where someone is from, as an origin.
# A deputy's delegation in a national vote: "Phạm Văn A (đoàn Quảng Ninh)".
_IDENTIFICATION: Final = re.compile(
    r"\((?:(?:sinh năm|SN|\d{1,3} tuổi)\b[^()]*|đoàn(?: ĐBQH)?\s+)$", re.IGNORECASE)
# A vehicle's plate number ("29B-123.45", "18N-2188", "27B 001.09"), before its route.
_PLATE: Final = re.compile(r"\b\d{2}[A-Z]{1,2}\d?(?: ?- ?| )?\d{3,5}(?:\.\d{2})?\b")
# A compass word after a name makes a longer one: "xã Bình Định Nam", "xã Hưng Yên Nam"; not
# one that opens the next name ("Thái Bình Nam Định", "Hà Nội Bắc Từ Liêm", "Sa Pa Tây Bắc").
_COMPASS: Final = ("Nam", "Bắc", "Đông", "Tây")
_COMPASS_AFTER: Final = re.compile(rf" (?:{'|'.join(_COMPASS)})(?!\w)")
_COMPASS_INITIALS: Final = frozenset(word[0] for word in _COMPASS)
# A news agency's dateline ("Hà Nội (TTXVN 17/3) Theo thống kê…"): where the story was filed.
_DATELINE: Final = re.compile(r" ?\((?:TTXVN|VNA)\b")
# Middle names that also open institutions' names: "Phạm Quốc Vinh" is a person.
_MIDDLE_NAMES: Final = frozenset({"Quốc"})
# Whose plate it is ("biển số 30K-123.45 của Hà Nội", "37A-123.45 (Nghệ An)", "30K-123.45 đăng
# ký tại Hà Nội"): a licence plate's province, no label.
_PLATE_OF: Final = re.compile(_PLATE.pattern + r"(?:,? (?:của|thuộc|đăng ký tại) | ?\()$")
_FROM: Final = frozenset({"từ"})  # "đoàn cứu hộ từ Thái Nguyên": where people come from is news too
# How many names as written (their readings, their evidence) the reader remembers. A cache
# smaller than the names in circulation misses on each of them when it comes round again, since
# it has dropped it by then: the 13,600 labelled items hold 6,600 wordings of names.
NAME_CACHE: Final = 16_384
_K = TypeVar("_K")
_V = TypeVar("_V")
# What `PlaceReader._kept` says of a name: its readings and whether it is weak, or None.
_Kept = tuple[tuple[Place, ...], bool] | None
_LAST_WORD: Final = re.compile(r"(\w+)[\s,]*$")
_OPENERS: Final = "(\"“[‘'«"  # what may open a phrase ("(như", "“quê")
_SENTENCE_START: Final = re.compile(r"(?:^|[.!?:;\n\"“”'(\[–—-])\s*$")


def _words_before(before: str, marked: bool = True) -> list[str] | None:
    """The words `_ending` compares: those of the last 48 characters of `before`, lowercase (in
    text typed without marks, `marked` False, folded: "que" is "quê"); None unless a space ends
    `before`. Every list of phrases before a name asks the same words: they are read once."""
    if not before.endswith(" "):
        return None
    return (before if marked else fold(before))[-48:].lower().split()


def _may_end(before: str, last_words: frozenset[str], marked: bool) -> bool:
    """False only when the words of `before` (`_words_before`) end no phrase whose last word is
    one of `last_words`. Most words before a name end none: the last word alone is read (str.lower
    keeps spaces spaces and the rest not), not the whole window lowered and split. (Text typed
    without marks is folded first: no quick test.)"""
    if not marked:
        return True
    if not before.endswith(" "):
        return False  # (no words)
    last = (before[-48:].rsplit(None, 1) or [""])[-1].lower()
    return last in last_words or last.lstrip(_OPENERS) in last_words


def _ends_before(before: str, phrases: frozenset[str], most: int = 3, marked: bool = True
                 ) -> bool:
    """Whether the words of `before` (`_words_before`) end with one of `phrases` (lowercase, up
    to `most` words)."""
    return _may_end(before, _shape(phrases)[1], marked) \
        and _ending(_words_before(before, marked), phrases, most, marked) is not None


def _ending(words: list[str] | None, phrases: frozenset[str], most: int = 3, marked: bool = True
            ) -> str | None:
    """The phrase of `phrases` (lowercase, up to `most` words) that `words` (`_words_before`) end
    with (folded, in text typed without marks), or None."""
    if not words:
        return None
    if not marked:
        phrases = _folded(phrases)
    # Hot (several calls per name): the last word must end some phrase, and only the word counts
    # some phrase has are joined and looked up.
    lengths, last_words = _shape(phrases)
    if (words[-1] not in last_words
                     and words[-1].lstrip(_OPENERS) not in last_words):
        return None
    for n in range(1, min(most, len(words)) + 1):
        if n in lengths and (said := " ".join(words[-n:]).lstrip(_OPENERS)) in phrases:
            return said
    return None


def _after_plural(text: str, end: int) -> bool:
    """Whether `text[:end]` matches `_PLURAL`, searching only its last 64 characters (the text
    before a name can be 2,000). A match longer than that holds a long number or run of spaces:
    at the window's start, or 5 characters on (after a plural word); then all is searched."""
    # Quick test first: a space must end the text, and the word before it be "các", "những", a
    # number word or end with a digit (most type words follow other words). An all-space tail,
    # or a word the window may have cut, is searched.
    window = text[max(0, end - 8) : end]
    if not window[-1:].isspace():
        return False
    words = window.split()
    cut = len(words) == 1 and end > 8 and not window[0].isspace()
    if words and not cut and not words[-1][-1].isdecimal() \
            and not _PLURAL_WORD.fullmatch(words[-1]):
        return False
    start = max(0, end - 64)
    if start and any(c.isdecimal() or c.isspace() for c in text[start : start + 6 : 5]):
        start = 0  # (str.isdecimal and str.isspace are re's \d and \s)
    return _PLURAL.search(text, start, end) is not None


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> _V:
    """`cache[key] = value`, emptying the cache first when it holds NAME_CACHE entries."""
    if len(cache) >= NAME_CACHE:
        cache.clear()
    cache[key] = value
    return value


def _by_wording(cache: dict[str, list[_V]], written: str) -> list[_V]:
    """What `cache` keeps for a name as written: the readings of that wording asked so far (a
    new list, remembered, the first time)."""
    known = cache.get(written)
    return known if known is not None else _remember(cache, written, [])


def _last_word(text: str, end: int) -> re.Match[str] | None:
    """The last word of `text[:end]` before spaces and commas (`_LAST_WORD`), read in its last
    64 characters: searched over all of it, the pattern is tried at every character. A word
    the window cuts is read again in the whole text."""
    start = max(0, end - 64)
    found = _LAST_WORD.search(text, start, end)
    if found is not None and found.start() == start and start:
        found = _LAST_WORD.search(text, 0, end)
    return found


# What `_folded` and `_shape` worked out, by list of phrases: the rules' few lists, each asked
# for every name (plain dicts: a frozenset keeps its hash, and lru_cache's wrapper costs more
# than the lookup).
_FOLDED: Final[dict[frozenset[str], frozenset[str]]] = {}
_SHAPES: Final[dict[frozenset[str], tuple[frozenset[int], frozenset[str]]]] = {}


def _folded(phrases: frozenset[str]) -> frozenset[str]:
    found = _FOLDED.get(phrases)
    if found is None:
        found = _remember(_FOLDED, phrases, frozenset(fold(p) for p in phrases))
    return found


def _shape(phrases: frozenset[str]) -> tuple[frozenset[int], frozenset[str]]:
    """How many words the phrases have, and their last words. Stripping the quotes off `n`
    words joined keeps the spaces and the last word (or strips that word, when `n` is 1), so
    only a phrase of `n` words ending with it can be the same."""
    found = _SHAPES.get(phrases)
    if found is None:
        found = _remember(_SHAPES, phrases, (frozenset(p.count(" ") + 1 for p in phrases),
                                             frozenset(p.rpartition(" ")[2] for p in phrases)))
    return found


class PhrasesBefore:
    """Several lists of phrases compared with the same words before a name, looked up together.

    Each name's words before (`_words_before`) are compared with five lists: a spouse's,
    a person's or road's, a comparison's, an enumeration's, a residence's. Asked one by one
    (`_ending` per list) that was five passes over the same last words; one index of every
    list's phrases answers all of them in one: for each list, the phrase `_ending` would find
    (the shortest that ends the words, of at most the list's `most` words). Where the last word
    ends no phrase of any list (most names), no list is asked at all."""

    def __init__(self, lists: dict[str, tuple[frozenset[str], int]]) -> None:
        """`lists`: name → (phrases, lowercase; how many words at most `_ending` compares)."""
        # (with marks, and folded: in text typed without marks the words are folded)
        self._index = (self._build({n: (_folded(p), most) for n, (p, most) in lists.items()}),
                       self._build(lists))

    @staticmethod
    def _build(lists: dict[str, tuple[frozenset[str], int]]
               ) -> tuple[dict[str, tuple[str, ...]], frozenset[str], int]:
        """Phrase → the lists holding it (only as long as their `most` allows: a longer
        phrase is never compared), every phrase's last word, the most words of any."""
        index: dict[str, list[str]] = {}
        for name, (phrases, most) in lists.items():
            for phrase in phrases:
                if phrase.count(" ") < most:
                    index.setdefault(phrase, []).append(name)
        return ({p: tuple(names) for p, names in index.items()},
                frozenset(p.rpartition(" ")[2] for p in index),
                max((p.count(" ") + 1 for p in index), default=0))

    def endings(self, before: str, marked: bool = True) -> dict[str, str]:
        """List name → the phrase of it that ends the words of `before` (`_words_before`), as
        `_ending` would find it, for the lists that have one."""
        index, last_words, most = self._index[marked]
        if not _may_end(before, last_words, marked):
            return {}
        words = _words_before(before, marked)
        if not words:
            return {}
        if words[-1] not in last_words and words[-1].lstrip(_OPENERS) not in last_words:
            return {}  # (as in `_ending`: the last word must end some phrase)
        found: dict[str, str] = {}
        for n in range(1, min(most, len(words)) + 1):
            said = " ".join(words[-n:]).lstrip(_OPENERS)
            for name in index.get(said, ()):
                found.setdefault(name, said)
        return found


_CONFIDENCE: Final[dict[float, float]] = {}  # what `_confidence` worked out, by weight


def _confidence(weight: float) -> float:
    """0.75 for one name in a summary, 0.88 with its type word ("huyện X"), 0.98 in the title.
    Weights are sums of a few steps, so they repeat: each is worked out once (`round` to three
    digits formats the float)."""
    found = _CONFIDENCE.get(weight)
    if found is None:
        found = _remember(_CONFIDENCE, weight, round(min(0.99, 1.0 - math.pow(0.25, weight)), 3))
    return found


def _home_evidence(feed: str) -> Evidence:
    return Evidence(EvidenceKind.PROVINCE, feed, "",
                    f"unit named without a name → feed home province → {feed} "
                    f"{province_name(feed)}")


def _with_folded(words: list[str]) -> list[str]:
    """Words and their folded forms, for names read in text typed without marks ("cong ty")."""
    return [*words, *(fold(w) for w in words)]


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@dataclass
class PlaceRules:
    type_full: EndWords  # type word right before a name, full words (any case)
    type_abbrev: EndWords  # abbreviations, case-sensitive ("TP", "P.")
    type_folded: EndWords  # full words typed without marks ("huyen"), for such text only
    unfold: dict[str, str]  # folded type word → the word ("huyen" → "huyện")
    tier_of: dict[str, str]  # lowercase type word → tier
    expand: dict[str, str]  # lowercase abbreviation → type word ("tp" → "thành phố")
    needs_type: frozenset[str]  # folded keys
    common_words: frozenset[str]
    before_not_place: frozenset[str]  # person / road / plate… right before (lowercase)
    plate: frozenset[str]  # a licence plate's words: no place even with a type word (lowercase)
    gateway: frozenset[str]  # "cửa ngõ": ends with a road word ("ngõ") but names no road
    organisation: re.Pattern[str]
    organisation_keys: frozenset[str]  # folded, for the automaton: is any of them in the item?
    organisation_gate_words: frozenset[str]  # every word of `organisation`, for its quick test
    organisation_words: frozenset[str]
    institution: frozenset[str]
    surnames: frozenset[str]  # "Đặng": a person's name opens with it, even a sentence's first
    surnames_after_title: frozenset[str]  # "Hồ": a person's only after "ông", "bà"…
    source: frozenset[str]
    foreign_after: re.Pattern[str]
    venue_before: frozenset[str]
    home_ground: frozenset[str]  # "trên sân": a province's name after it is a team's ground
    facility_before: re.Pattern[str]
    sports: frozenset[str]  # folded keys
    sports_marked: frozenset[str]  # the same words with their marks (marks_form)
    home_unit: re.Pattern[str]
    home_unit_gate: WordGate  # the quick test of home_unit's words, and where they start
    home_council: BoundedWords
    generic_before: frozenset[str]
    other_after: frozenset[str]  # "tỉnh lỵ", "tỉnh lộ": another word than the unit
    passing_before: frozenset[str]  # comparison and origin words (lowercase)
    nickname_after: tuple[str, ...]  # "Đà Lạt thứ hai": words right after a name (as written)
    route_start: frozenset[str]  # "từ", "tuyến": a route's first end follows (lowercase)
    distance: frozenset[str]  # "cách": a distance from the name follows (lowercase)
    direction: frozenset[str]  # "hướng từ": a route start that a vehicle alone makes one
    vehicle: re.Pattern[str]  # "xe", "tài xế": a vehicle before its direction of travel
    weather: re.Pattern[str]  # "bão": between a vehicle and a direction, the path is a storm's
    route_between: re.Pattern[str]  # " đi ", " - ": between a route's two ends
    enumeration_before: frozenset[str]  # "nhiều tỉnh như": not a comparison
    work_before: frozenset[str]  # "phim", "ca khúc": a title in quotes follows
    ethnic_before: re.Pattern[str]  # "dân tộc Dao TP Hà Nội": a community's origin
    ethnic_ends: frozenset[str]  # the last word of each ethnic group's name, for a quick test
    # Residences, seats and neighbours ("sống tại", "có trụ sở tại", "giáp"), lowercase → what
    # they make a name right after them: labels only when alone.
    alone_before: dict[str, str]
    named_after: re.Pattern[str]  # outlets, roads and plants, institutions (groups: NAMED_AFTER)
    named_after_words: frozenset[str]  # every word of `named_after`, for its quick test


def load_place_rules(path: Path = CONTEXT_FILE) -> PlaceRules:
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    types = data["type_words"]
    abbrevs = set(types["abbreviations"])
    tier_of: dict[str, str] = {}
    full: list[str] = []
    short: list[str] = []
    for tier in ("province", "city", "district", "commune"):
        for word in types[tier]:
            tier_of[word.lower()] = tier
            (short if word in abbrevs else full).append(word)
    single = [w for w in short if len(w) == 1]
    multi = [w for w in short if len(w) > 1]
    multi_forms = multi + [w.title() for w in multi]
    folded = [fold(w) for w in full]
    ctx = data["context"]
    names = data["names"]
    home = data["home"]
    passing = data["passing"]
    return PlaceRules(
        type_full=EndWords(
            re.compile(rf"(?:^|(?<=\W))({_alternation(full)})\s*$", re.IGNORECASE),
            {w.lower(): len(w) for w in full}, ignore_case=True),
        type_folded=EndWords(
            re.compile(rf"(?:^|(?<=\W))({_alternation(folded)})\s*$", re.IGNORECASE),
            {w.lower(): len(w) for w in folded}, ignore_case=True),
        unfold={fold(w): w.lower() for w in full},
        type_abbrev=EndWords(re.compile(
            rf"(?:^|(?<=\W))(?:({_alternation(multi_forms)})\.?\s*"
            rf"|({_alternation(single)})\.\s*)$"),
            {**{w: len(w) for w in multi_forms}, **{f"{w}.": len(w) for w in multi_forms},
             **{f"{w}.": len(w) for w in single}}, ignore_case=False),
        tier_of=tier_of,
        expand={k.lower(): v for k, v in types["expand"].items()},
        needs_type=frozenset(match_key(n) for n in names["needs_type"]),
        common_words=frozenset(match_key(n) for n in names["common_words"]),
        before_not_place=frozenset(w.lower() for w in ctx["person"] + ctx["road"] + ctx["other"]
                                   + ctx["plate"]),
        plate=frozenset(w.lower() for w in ctx["plate"]),
        gateway=frozenset(w.lower() for w in ctx["gateway"]),
        organisation=re.compile(
            rf"(?:^|(?<=\W))(?:{_alternation(_with_folded(ctx['organisation']))})(?=\W)",
            re.IGNORECASE),
        organisation_keys=frozenset(match_key(w) for w in ctx["organisation"]),
        organisation_gate_words=frozenset(_with_folded(ctx["organisation"])),
        organisation_words=frozenset(w.lower() for w in _with_folded(ctx["organisation_words"])),
        institution=frozenset(ctx["institution"]),
        surnames=frozenset(ctx["surnames"]),
        surnames_after_title=frozenset(ctx["surnames_after_title"]),
        source=frozenset(w.lower() for w in ctx["source"]),
        foreign_after=re.compile(
            rf"^\s*[(,]\s*(?:{_alternation(ctx['countries'])})\s*(?:[),.;]|$)"),
        facility_before=re.compile(rf"(?:^|(?<=\W))(?:{_alternation(ctx['facility'])})(?:\s+\w+){{0,2}}\s+$",
                                   re.IGNORECASE),
        venue_before=frozenset(w.lower() for w in ctx["venue"]),
        home_ground=frozenset(w.lower() for w in ctx["home_ground"]),
        sports=frozenset(match_key(w) for w in ctx["sports"]),
        sports_marked=frozenset(marks_form(w) for w in ctx["sports"]),
        home_unit=re.compile(rf"(?<!\w)({_alternation(home['unit_words'])})(?!\w)", re.IGNORECASE),
        home_unit_gate=WordGate(home["unit_words"]),
        home_council=BoundedWords(home["councils"]),
        generic_before=frozenset(w.lower() for w in home["generic_before"]),
        other_after=frozenset(w.lower() for w in home["other_after"]),
        passing_before=frozenset(w.lower() for w in passing["comparison"] + passing["origin"]),
        nickname_after=tuple(f" {w}" for w in passing["nickname_after"]),
        route_start=frozenset(w.lower() for w in passing["route_start"]),
        distance=frozenset(w.lower() for w in passing["distance"]),
        direction=frozenset(w.lower() for w in passing["direction"]),
        vehicle=re.compile(rf"(?<!\w)(?:{_alternation(passing['vehicle'])})(?!\w)", re.IGNORECASE),
        weather=re.compile(rf"(?<!\w)(?:{_alternation(passing['weather'])})(?!\w)", re.IGNORECASE),
        route_between=re.compile(
            rf"\s*(?:{_alternation([w for w in passing['route_between'] if not w.isalpha()])}"
            rf"|\s(?:{_alternation([w for w in passing['route_between'] if w.isalpha()])})\s)\s*",
            re.IGNORECASE),
        enumeration_before=frozenset(w.lower() for w in passing["enumeration"]),
        work_before=frozenset(w.lower() for w in passing["work"]),
        ethnic_before=re.compile(rf"(?<!\w)(?:{_alternation(passing['ethnic'])}),?\s+$"),
        ethnic_ends=frozenset(_WORD.findall(name)[-1] for name in passing["ethnic"]),
        alone_before={w.lower(): kind for group, kind in ALONE_BEFORE.items()
                      for w in passing[group]},
        # (the word bound tested once, before the groups, not in each: the same matches)
        named_after=re.compile(r"(?:^|(?<=\W))(?:" + "|".join(
            rf"(?P<{group}>{_alternation(_with_folded(passing[group]))})"
            for group in NAMED_AFTER) + r")(?=\W)", re.IGNORECASE),
        named_after_words=frozenset(w for group in NAMED_AFTER
                                    for w in _with_folded(passing[group])),
    )


@lru_cache(maxsize=1)
def get_place_rules() -> PlaceRules:
    return load_place_rules()


@dataclass(slots=True, init=False)
class Mention:
    start: int  # folded span of the name
    end: int
    key: str
    ts: int  # text span of the name
    te: int
    cands: tuple[Place, ...] = ()
    typed: str | None = None  # tier of the type word before the name
    quote_start: int = 0  # text offset where the evidence quote starts (type word included)
    type_word: str = ""  # "huyện", "thành phố" (for "TP")…
    weak: bool = False  # a bare commune name: only confirms a province found otherwise
    place: Place | None = None  # the reading settled on
    passing: str = ""  # why this is a passing mention (PASSING_COMPARISON, NAMED_AFTER…), or ""
    marked: bool = True  # in a segment written with diacritics (Prepared.marked)
    before: str = ""  # the 60 characters of text before quote_start, which context rules read
    # The phrases its last words end, by list (PlaceReader._before: SPOUSE, NOT_PLACE…)
    ends: dict[str, str] = field(default_factory=dict)

    # Written out (dataclass init=False): compiled, the generated __init__ runs as Python.
    def __init__(self, start: int, end: int, key: str, ts: int, te: int,
                 cands: tuple[Place, ...] = (), typed: str | None = None, quote_start: int = 0,
                 type_word: str = "", weak: bool = False, place: Place | None = None,
                 passing: str = "", marked: bool = True, before: str = "",
                 ends: dict[str, str] | None = None) -> None:
        self.start, self.end, self.key, self.ts, self.te = start, end, key, ts, te
        self.cands, self.typed, self.quote_start, self.type_word = cands, typed, quote_start, \
            type_word
        self.weak, self.place, self.passing, self.marked = weak, place, passing, marked
        self.before = before
        self.ends = {} if ends is None else ends


class PlaceReader:
    def __init__(self, gazetteer: Gazetteer, rules: PlaceRules) -> None:
        self.gaz = gazetteer
        self.rules = rules
        self._named_after_gate = WordGate(rules.named_after_words)
        self._organisation_gate = WordGate(rules.organisation_gate_words)
        self._venue_or_from = rules.venue_before | _FROM  # built once: it is hashed per name
        # The lists every name's words before are compared with (phrases, most words read).
        self._before_lists = {
            SPOUSE: (_SPOUSE, 3), NOT_PLACE: (rules.before_not_place, 3),
            COMPARISON: (rules.passing_before, 3), ENUMERATION: (rules.enumeration_before, 5),
            ALONE: (frozenset(rules.alone_before), 4), GATEWAY: (rules.gateway, 3),
            HOME_GROUND: (rules.home_ground, 3), ROUTE_START: (rules.route_start, 3),
            DISTANCE: (rules.distance, 2)}
        self._before = PhrasesBefore(self._before_lists)
        # (in text typed without marks `_ending` says the phrase folded)
        self._alone_kind = {**{fold(w): k for w, k in rules.alone_before.items()},
                            **rules.alone_before}
        # Most names have no type word before them: one test of the text's last characters
        # against the lists of type words says so (None: no such test, each list is read).
        full, abbrev, folded = (rules.type_full.endings, rules.type_abbrev.endings,
                                rules.type_folded.endings)
        self._type_ends = (full | abbrev, full | abbrev | folded) \
            if full and abbrev and folded else None  # (in text with marks, without)
        # Keys whose name is capitalised at its first word (a lowercase one is another word).
        self._capital_first = frozenset(k for k, caps in gazetteer.capitals.items() if caps[0])
        # What `_same_marks`, `_kept` and `_evidence` have read (NAME_CACHE), by the name as
        # written: a string keys a dict faster than a tuple holding it (no tuple to build, and
        # compared by identity first), and the few readings of one wording are told apart in a
        # short list. Plain dicts: calling through lru_cache's wrapper cost compiled code more
        # than the lookup saves.
        self._marks_cache: dict[str, list[tuple[str, tuple[Place, ...]]]] = {}
        self._kept_cache: dict[str, list[tuple[str, bool, str, str | None, str, bool, _Kept]]] \
            = {}
        self._evidence_cache: dict[str, list[tuple[Place, str, str, Evidence]]] = {}

    def sports_cue(self, prep: Prepared, start: int, end: int) -> bool:
        """Whether the sports word found at folded [start, end) is one: in text written with
        marks, "bí thư Thành ủy" is no "thủ thành", "đã phát" no "đá phạt"."""
        ts, te = prep.span(start, end)
        return not prep.marked(ts) or marks_form(prep.text[ts:te]) in self.rules.sports_marked

    # --- one mention -------------------------------------------------------------------------

    def _same_marks(self, key: str, written: str) -> tuple[Place, ...]:
        """The readings of `key` with the marks of the `written` name ("Quỹ Hợp" is no "Quỳ
        Hợp"); a key that holds its type word ("TT Chờ") compares the name at its end; a name
        whose marks the data lost matches any spelling. Read once per wording (NAME_CACHE)."""
        known = _by_wording(self._marks_cache, written)
        for k, found in known:
            if k == key:
                return found
        said = marks_form(written)
        found = tuple(p for p in self.gaz.places[key]
                      if not p.marks or said == p.marks or said.endswith(" " + p.marks))
        known.append((key, found))
        return found

    def _readings(self, key: str, written: str, marked: bool) -> tuple[Place, ...]:
        """The readings of `key` the `written` name allows: in text with diacritics, only those
        with its own marks (`_same_marks`); in text typed without them, every one."""
        return self._same_marks(key, written) if marked else self.gaz.places[key]

    def _type_before(self, text: str, ts: int, marked: bool = True
                     ) -> tuple[str | None, int, str]:
        """The type word right before a name: (tier, where it starts, its full form). In text
        typed without marks the type words are read folded too ("xa Tu Tan", "huyen Vu Thu")."""
        tail = text[max(0, ts - 14) : ts]
        if self._type_ends is not None and not self._type_ends[not marked].may_end(tail):
            return None, ts, ""
        found = (self.rules.type_full.find(tail) or self.rules.type_abbrev.find(tail)
                 or (None if marked else self.rules.type_folded.find(tail)))
        if not found:
            return None, ts, ""
        start, word = found
        word = word.lower()
        word = self.rules.unfold.get(word, word) if not marked else word
        return (
            self.rules.tier_of[word],
            ts - len(tail) + start,
            self.rules.expand.get(word, word),
        )

    def _capitalised(self, key: str, typed: str | None, cased: str, upper_segment: bool) -> bool:
        """Capitals where the name has them (only the first word after a type word, which
        writers often get wrong: "huyện Tu Mơ rông"). Text in all capitals proves nothing.
        `cased` is the name as written, folded (Prepared.cased)."""
        if upper_segment:
            return bool(typed) or key not in self.rules.common_words
        words = cased.split()
        if key in self.gaz.typed:
            return not words[-1][0].islower()
        if self.gaz.places[key][0].holds_type:
            return True  # "quận 3": the match holds its type word
        if typed:  # (also where the data lost the name's capitals: "xã thành lập")
            return not words[0][0].islower()
        caps = self.gaz.capitals.get(key)
        if caps is None:
            return True
        for word, cap in zip(words, caps, strict=False):  # a loop, not all(…): every name
            if cap and word[0].islower():
                return False
        return True

    def _rejected(self, prep: Prepared, m: Mention, organisations: bool) -> str | None:
        """Why this is not a Vietnamese place of the news, or None."""
        text, rules, before = prep.text, self.rules, m.before
        if m.type_word == "xã" and SPOUSE in m.ends:
            return "spouse ('bà xã', 'ông xã')"
        if before.endswith(("của ", "thuộc ", "tại ", "(")) and _PLATE_OF.search(before):
            return "licence plate"
        # (each pattern runs only where the next characters can start it: most names are
        # followed by a plain word or a comma)
        after = text[m.te : m.te + 2]
        if after[1:] in _COMPASS_INITIALS and after[:1] == " " \
                and (compass := _COMPASS_AFTER.match(text, m.te)) \
                and not text[compass.end() + 1 : compass.end() + 2].isupper():
            return "part of a longer name"
        if "(" in after and _DATELINE.match(text, m.te):
            return "a news agency's dateline"
        if not m.typed:
            if NOT_PLACE in m.ends and GATEWAY not in m.ends:
                return "person, road or other thing named after a place"
            said = text[m.ts : m.te]
            if not said.split()[0].isupper() and self._after_name_word(before):
                return PERSON  # (an abbreviation as "TPHCM" never is)
        elif m.ends.get(NOT_PLACE) in rules.plate:
            return "licence plate"
        if organisations and self._in_organisation(before):
            return ORGANISATION
        after_name = text[m.te : m.te + 30]
        if after_name.lstrip().startswith(("(", ",")) and rules.foreign_after.match(after_name):
            return "abroad"  # (foreign_after is anchored: match, not search)
        if self._in_byline(text, prep.title_end, m):
            return "byline"
        return None

    def _after_name_word(self, before: str) -> bool:
        """"Đặng Văn Lâm", "Trương Hòa Bình", "Công An Hà Nội": right after another capitalised
        Vietnamese syllable that does not start the sentence, the name is part of a longer name;
        after a family name, even one that does ("…; Đặng Thanh Sơn, Ủy viên").
        A family name that is another word too counts only after a person's title ("Ông Hồ
        Thanh Thủy", not the lake "Hồ Thanh Thủy"); a syllable that opens institutions' names
        only as a middle name after another name's syllable: "Phạm Quốc Vinh", not "Tổ Quốc
        Vinh", "Mưa Lớn Tại Nghệ An"."""
        if not before.endswith(" "):
            return False
        head, _, word = before[:-1].rpartition(" ")
        if not self._name_syllable(word):
            return False
        if word in self.rules.surnames or (word in self.rules.surnames_after_title
                                           and f" {head.lower()}".endswith(_AFTER_TITLE)):
            return True
        if _SENTENCE_START.search(head[-3:]):
            return False
        if word not in self.rules.institution:
            return True
        if word not in _MIDDLE_NAMES:
            return False
        head, _, previous = head.rpartition(" ")
        return (self._name_syllable(previous) and previous not in self.rules.institution
                and not _SENTENCE_START.search(head[-3:]))

    def _name_syllable(self, word: str) -> bool:
        """A capitalised Vietnamese syllable, not an abbreviation."""
        return (len(word) > 1 and word[0].isupper() and word.isalpha() and not word.isupper()
                and fold(word) in self.gaz.syllables)

    def _in_organisation(self, before: str) -> bool:
        """"CLB Công an Hà Nội", "Công ty TNHH MTV Xăng dầu Quảng Nam"."""
        return self._name_word(before, self.rules.organisation,
                               self._organisation_gate) is not None

    def _name_word(self, before: str, pattern: re.Pattern[str], gate: WordGate | None = None
                   ) -> re.Match[str] | None:
        """The last match of `pattern` in the clause `before` ends, when only capitalised words
        (or company words) stand between it and the end: the name is part of that name. `gate`,
        the quick test of the pattern's words (its alternatives, each of them), saves running it
        where it cannot match and tells where it can."""
        starts = gate.starts(before) if gate is not None else None
        if starts is not None and not starts:
            return None  # none of its words before the name, so none in the clause: no clause cut
        cuts = list(_CLAUSE_END.finditer(before))
        cut = cuts[-1].end() if cuts else 0
        clause = before[cut:]
        # (tried only where one of its words starts: an IGNORECASE alternation tried at every
        # character cost some 40,000 instructions a clause; the clause's starts are those of
        # `before` after the cut, read in the same pass)
        if starts is not None:
            starts = [at - cut for at in starts if at >= cut]
        found = last_match(pattern, clause, starts)
        if not found:
            return None
        between = _WORD.findall(clause[found.end() :])
        if len(between) <= 8 and all(
                w[0].isupper() or w.lower() in self.rules.organisation_words for w in between):
            return found
        return None

    def _word_before(self, text: str, m: Mention) -> str:
        """The capitalised word right before an untyped name that is no type or institution
        word ("Đại" in "Đại Quang Minh"), or ""."""
        if m.typed:
            return ""
        before = text[max(0, m.ts - 20) : m.ts]
        word = before.split()[-1] if before.endswith(" ") and before.strip() else ""
        return word if word[:1].isupper() and word.isalpha() \
            and word not in self.rules.institution else ""

    @staticmethod
    def _in_byline(text: str, title_end: int, m: Mention) -> bool:
        """A reader's or author's signature closing the summary:
        "(Thanh Phong, 48 tuổi, Đồng Nai)"."""
        open_ = text.rfind("(", title_end, m.ts)
        close = text.find(")", m.te)
        if open_ < 0 or close < 0 or ")" in text[open_:m.ts] or "(" in text[m.te:close]:
            return False
        if text[close + 1 :].strip(" .…?!\n"):
            return False
        inside = text[open_ + 1 : close]
        if "tuổi" in inside:
            return True
        first = inside.split(",")[0]
        words = first.split()
        return ("," in inside and open_ + 1 + len(first) < m.ts and 1 < len(words) <= 4
                and all(w[0].isupper() for w in words))

    # --- the whole item ------------------------------------------------------------------------

    def read(
        self, prep: Prepared, hits: list[tuple[int, int, str]], feed_province: str | None = None,
        sports_cues: int = 0, organisations: bool = True,
    ) -> tuple[list[str], list[Evidence], dict[str, float]]:
        """Provinces (most relevant first), their evidence and confidence. `hits` are the
        gazetteer and blocked-phrase matches in `prep.folded`; `sports_cues` how many sports
        words it has; `organisations` whether it names a club or company word at all."""
        if not hits and not feed_province:
            return [], [], {}
        text = prep.text
        sports = sports_cues >= 2
        kept: list[Mention] = []
        priors: list[str] = []
        # (word before, name) of a company's or person's longer name, to know it again
        longer: set[tuple[str, str]] = set()
        for m in self._mentions(prep, hits):
            why = self._rejected(prep, m, organisations)
            if why in (ORGANISATION, PERSON):
                longer.add((self._word_before(text, m), m.key))
            if why:
                continue
            marked = m.marked
            if _ends_before(text[max(0, m.quote_start - 40) : m.quote_start], self.rules.source,
                            marked=marked):
                priors.extend(p.code for p in m.cands if p.kind in PROVINCE_LEVEL)
                continue
            if sports and not m.typed and not _ends_before(
                    text[max(0, m.ts - 20) : m.ts], self.rules.venue_before, 2, marked):
                continue
            kept.append(m)
        if longer:
            # The same longer name said again where nothing marks it, at a sentence's start:
            # "Công ty … Đại Quang Minh" and "Đại Quang Minh đề xuất…".
            kept = [m for m in kept if not self._word_before(text, m)
                    or (self._word_before(text, m), m.key) not in longer]
        self._settle(prep, kept, priors, feed_province)
        settled = [m for m in kept if m.place]
        if feed_province:
            settled = self._off_feed_dropped(settled, feed_province)
        self._mark_passing(prep, settled)
        return self._labels(prep, settled, feed_province)

    def _mark_passing(self, prep: Prepared, settled: list[Mention]) -> None:
        """Comparisons, examples, origins, names of outlets, roads and institutions ("như Hà
        Nội", "quê Nghệ An", "Báo Lào Cai", "Trường ĐH Y Hà Nội"); a name listed right after a
        passing one is passing too ("như Hà Nội, TP.HCM và Đà Nẵng")."""
        text = prep.text
        previous: Mention | None = None
        for m in settled:
            before, ends, marked = m.before, m.ends, m.marked
            # A person's province, a company's seat and an identification all follow a bracket:
            # most names have none before them, and those three checks are skipped.
            bracket = "(" in before
            if not self._says_where(m):
                m.passing = PASSING_COMPARISON
            elif HOME_GROUND in ends and not m.typed and m.place is not None \
                    and m.place.kind in PROVINCE_LEVEL:
                m.passing = TEAM_GROUND  # "trên sân Hà Tĩnh": a club's name, not the venue
            elif not m.typed and self._nicknamed(text, m.te):
                m.passing = PASSING_COMPARISON  # "Đà Lạt thứ hai": another place's nickname
            elif DISTANCE in ends and self._far(text, m.quote_start, m.te):
                m.passing = FAR  # "cách Hà Nội hơn 300 km"
            elif ROUTE_START in ends and (
                    self._in_clause_after(_PLATE, text, m.quote_start)
                    or (_ends_before(before, self.rules.direction, 3, marked)
                        and self._in_clause_after(self.rules.vehicle, text, m.quote_start,
                                                  self.rules.weather))):
                # "xe khách 18N-2188 từ Hà Nội", "tài xế lái xe hướng từ Đà Lạt về TP HCM":
                # where it runs, not the news
                m.passing = ROUTE
            elif previous is not None and previous.passing == ROUTE \
                    and self.rules.route_between.fullmatch(text, previous.te, m.quote_start):
                m.passing = ROUTE  # "… từ Hà Nội đi Lào Cai": the route's other end
            elif (not m.typed or (m.typed == "city" and _ROAD_END.match(text, m.te))) \
                    and (named := self._name_word(before, self.rules.named_after,
                                                  self._named_after_gate)) \
                    and (not m.typed or named.lastgroup == "infrastructure"):
                # (a city said with its type word, in a road's name only when the road's other
                # end follows: "cao tốc Thành phố Hồ Chí Minh - Mộc Bài", not "dịch vụ công trực
                # tuyến thành phố Cần Thơ")
                m.passing = NAMED_AFTER[named.lastgroup or ""]
            elif m.place is not None and m.place.district in INSTITUTION_LANDMARKS:
                m.passing = INSTITUTION  # "Bệnh viện Chợ Rẫy": its own news only when alone
            elif previous is not None and previous.passing \
                    and not (m.typed and previous.passing == INSTITUTION) \
                    and (_LIST_GAP.fullmatch(gap := text[previous.te : m.quote_start])
                         or (gap == " " and m.place is not None and previous.place is not None
                             and m.place.code == previous.place.code)  # "Thủ đô Hà Nội"
                         # "như Hà Nội đến TP.HCM", "tam giác Hà Nội - Hải Phòng - Quảng Ninh"
                         or (previous.passing == PASSING_COMPARISON
                             and (_ONWARD.fullmatch(gap) or _RANGE_GAP.fullmatch(gap)))):
                # (a unit named with its type word after an institution is its address, where
                # the news is: "Trường TH Hòa Bình, phường 5, TP.Vũng Tàu")
                m.passing = previous.passing
            elif bracket and (self._after_person(text, m, previous)
                              or self._seat_of_organisation(before)):
                m.passing = PASSING_COMPARISON
            elif (bracket and _IDENTIFICATION.search(before)) or self._after_ethnic_group(before):
                m.passing = IDENTIFICATION
            elif (said := ends.get(ALONE)) is not None and ENUMERATION not in ends:
                m.passing = self._alone_kind[said]  # a residence, a seat, a neighbour
            elif self._in_work_title(before, marked):
                m.passing = "in passing: the title of a work"
            previous = m

    def _far(self, text: str, start: int, end: int) -> bool:
        """"cách Hà Nội hơn 300 km": the name at `start`..`end` (after "cách") is more than FAR_KM
        away ("cách Hà Nội 100 km" is near), and no weather moves in its sentence
        (data/gazetteer.context.toml, `distance`)."""
        found = _DISTANCE.match(text, end)
        if found is None:
            return False
        metres = int(found.group(1).replace(".", "")) * (
            _NAUTICAL_M if found.group(2).lower() == "hải lý" else 1000)
        if metres <= FAR_KM * 1000:
            return False
        opened = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start)) + 1
        closed = find_sentence_end(text, found.end())
        sentence = text[opened : closed[0] if closed else len(text)]
        return self.rules.weather.search(sentence) is None

    def _nicknamed(self, text: str, end: int) -> bool:
        """"(được mệnh danh là) Đà Lạt thứ hai", "Hạ Long thu nhỏ": the words right after the
        name that end at `end` make it another place's nickname, a comparison."""
        if text[end : end + 1] != " ":
            return False  # (most names: a comma, a bracket or the end)
        for said in self.rules.nickname_after:
            if text.startswith(said, end):
                after = text[end + len(said) : end + len(said) + 1]
                if not after or not (after.isalnum() or after == "_"):  # a whole word
                    return True
        return False

    @staticmethod
    def _in_clause_after(pattern: re.Pattern[str], text: str, start: int,
                         unless: re.Pattern[str] | None = None) -> bool:
        """Whether `pattern` (a vehicle's plate number, a vehicle) stands in the same clause
        before `start`, where the words of a route's start end ("biển số 18N-2188 từ …",
        "27B 001.09, lưu thông từ …"), with nothing `unless` matches between: the route the
        vehicle runs, a passing mention where the news names where it happened."""
        window = text[max(0, start - _CLAUSE_GAP - 30) : start]  # 30: the longest vehicle word
        found = list(pattern.finditer(window))
        if not found:
            return False
        gap = window[found[-1].end() :]
        if unless is not None and unless.search(gap):
            return False
        return len(gap) <= _CLAUSE_GAP and gap.count(",") <= 1 and not any(
            c in gap for c in "();:") and find_sentence_end(gap) is None

    def _seat_of_organisation(self, before: str) -> bool:
        """"Công ty TNHH Xây dựng Đại Thu (TP. Hồ Chí Minh)": a company's seat in brackets right
        after its name, not where the news happens."""
        head = before.rstrip()
        return head.endswith("(") and self._in_organisation(head[:-1])

    def _in_work_title(self, before: str, marked: bool) -> bool:
        """"phim 'Tây Sơn thất hổ tướng'": inside quotes opened right after a work word."""
        opened = -1  # (a loop, not max(map(...)): compiled, each rfind is then a direct call)
        for quote in _OPENING_QUOTES:
            at = before.rfind(quote)
            if at > opened:
                opened = at
        if opened < 0 or any(q in before[opened + 1 :] for q in _CLOSING_QUOTES):
            return False
        return _ends_before(before[:opened].rstrip() + " ", self.rules.work_before, 3, marked)

    def _after_ethnic_group(self, before: str) -> bool:
        """"dân tộc Dao TP Hà Nội": an ethnic group's name right before. Hot (every name): the
        word ending the text must end some group's name before the pattern runs."""
        tail = before.rstrip()
        tail = tail[:-1] if tail.endswith(",") else tail
        start = len(tail)
        while start and (tail[start - 1].isalnum() or tail[start - 1] == "_"):  # re's \w
            start -= 1
        return tail[start:] in self.rules.ethnic_ends \
            and self.rules.ethnic_before.search(before) is not None

    @staticmethod
    def _after_person(text: str, m: Mention, previous: Mention | None) -> bool:
        """"Đại biểu Hoàng Ngọc Định (Hà Giang)": a person's province in brackets right after
        their title and name (not a place's, nor a road's or school's named after a person)."""
        if text[m.quote_start - 1 : m.quote_start] != "(" \
                or (previous is not None and previous.te >= m.quote_start - 2):
            return False  # (tested before the words are sliced out: most names have no bracket)
        head = text[max(0, m.quote_start - 40) : m.quote_start]
        words = head[:-1].split()[-5:]
        name, title = words[-3:], " ".join(words[:-3]).lower()
        return (len(name) == 3 and all(w[:1].isupper() and w.isalpha() for w in name)
                and f" {title}".endswith(_AFTER_TITLE))  # a whole word: not "xông"

    def _mentions(self, prep: Prepared, hits: list[tuple[int, int, str]]) -> list[Mention]:
        """Longest matches first; a match inside a longer one is dropped (blocked ones included).

        A match that cannot be a name here (wrong case, no reading its type word allows) leaves
        room for shorter ones: "bắc Quảng Trị" is not "Bắc Quang", so "Quảng Trị" matches."""
        text, cased, gaz = prep.text, prep.cased, self.gaz
        # Text written all in capitals (a shouted title) says nothing by its case.
        title, summary = text[: prep.title_end], text[prep.title_end :]
        upper_title = title.isupper() or not title
        upper_summary = summary.isupper() or not summary.strip()
        mixed_case = not (upper_title or upper_summary)
        blocked: list[tuple[int, int]] = []
        found: list[Mention] = []
        # The last of a list after "các xã", "3 phường"… (where it ends, its tier and type word)
        listed: tuple[int, str, str] | None = None
        for start, end, key in hits:
            if key in gaz.blocked:
                blocked.append((start, end))
                continue
            if key in gaz.typed and self._in_longer_type_word(prep.folded, start, key):
                continue  # "thị xã Thuận An" holds "xã Thuận" (a one-syllable commune's key)
            if mixed_case and key in self._capital_first and cased[start].islower():
                continue  # cheap first test; typed names still need a capital first letter
            ts, te = prep.span(start, end)
            marked = prep.marked(ts)
            written = text[ts:te]
            cands = self._readings(key, written, marked)
            if not cands:
                continue  # written with other marks: another word ("cá màu")
            typed, quote_start, type_word = self._type_before(text, ts, marked)
            if typed and _after_plural(text, quote_start):
                listed = te, typed, type_word
            elif not typed and listed is not None and listed[0] <= ts \
                    and _LIST_SEP.fullmatch(text, listed[0], ts) \
                    and any(p.kind in TIER_KINDS[listed[1]] for p in cands):
                # "các xã Hòa An, Tấn Mỹ, Hòa Bình": each is a commune, not the former province
                typed, type_word, listed = listed[1], listed[2], (te, listed[1], listed[2])
            own = cands[0]
            if key in gaz.typed:  # "thị trấn Chờ": the key holds the type word
                typed, type_word = self.rules.tier_of[gaz.typed[key]], gaz.typed[key]
            elif not typed and own.holds_type:
                typed = "district" if own.kind == "district" else "commune"  # "Quận 3"
            kept = self._kept(key, written, marked, cased[start:end], typed, type_word,
                              upper_title if ts < prep.title_end else upper_summary)
            if kept is not None:
                before = text[max(0, quote_start - 60) : quote_start]
                found.append(Mention(start, end, key, ts, te, kept[0], typed, quote_start,
                                     type_word, kept[1], marked=marked, before=before,
                                     ends=self._before.endings(before, marked)))
        if not blocked and all(a.end <= b.start for a, b in pairwise(found)):
            return found  # nothing overlaps, and they come in order (most items): all stay
        return self._longest(found, blocked)

    @staticmethod
    def _longest(found: list[Mention], blocked: list[tuple[int, int]]) -> list[Mention]:
        """The mentions no blocked phrase or longer name overlaps, in text order.

        Blocked phrases first, then names by length; a bare commune name (weak) never hides a
        stronger one: in "TỈNH HÒA BÌNH" the commune "Tịnh Hòa" yields to the province.
        A longer name holds a blocked phrase ("Đại học Tây Nguyên" holds "Tây Nguyên").
        A name's length counts the type word before it: in "phường Láng Tròn" the ward Láng
        Tròn (with "phường") is longer than the key "phường Láng", which holds its type word."""
        blocked = [(bs, be) for bs, be in blocked if not any(
            m.start <= bs and be <= m.end and m.end - m.start > be - bs and not m.weak
            for m in found)]
        taken = sorted(blocked, key=lambda s: s[0] - s[1])
        taken = [span for i, span in enumerate(taken)
                 if not any(span[0] < e and s < span[1] for s, e in taken[:i])]
        out = []
        # (quote_start is a text offset: the folded one is a character further on)
        for m in sorted(found, key=lambda m: (m.weak, min(m.start, m.quote_start + 1) - m.end,
                                              m.start)):
            if not any(m.start < e and s < m.end for s, e in taken):
                taken.append((m.start, m.end))
                out.append(m)
        out.sort(key=lambda m: m.start)
        return out

    def _in_longer_type_word(self, folded: str, start: int, key: str) -> bool:
        """Whether the type word a key holds ("xa thuan": "xã Thuận") ends a longer type word
        with the word before it ("thị xã"): then it is that unit's type, not this key's."""
        previous = folded[max(0, start - 16) : start].split()[-1:]
        return bool(previous) and f"{previous[0]} {key.partition(' ')[0]}" in self.rules.unfold

    def _kept(self, key: str, written: str, marked: bool, cased: str, typed: str | None,
              type_word: str, upper_segment: bool) -> _Kept:
        """The readings of a name written `written` (`cased` folded, in text with marks or not)
        that its type word allows (`_filter`), and whether it is weak; None when none is left or
        it is not capitalised as a name. A function of the name and its type word alone: names
        repeat across items, so it is read once (NAME_CACHE)."""
        known = _by_wording(self._kept_cache, written)
        for k, mk, cs, ty, tw, up, found in known:
            if k == key and mk == marked and cs == cased and ty == typed and tw == type_word \
                    and up == upper_segment:
                return found
        kept = self._filter(key, self._readings(key, written, marked), typed, type_word, written)
        if kept is not None and not self._capitalised(key, typed, cased, upper_segment):
            kept = None
        known.append((key, marked, cased, typed, type_word, upper_segment, kept))
        return kept

    def _filter(self, key: str, readings: tuple[Place, ...], typed: str | None, type_word: str,
                written: str) -> tuple[tuple[Place, ...], bool] | None:
        """The readings the type word (or its absence) allows, and whether the name is weak (a
        bare commune name); None when none is left."""
        weak = False
        if typed:
            cands = [p for p in readings if p.kind in TIER_KINDS[typed]]
            same = [p for p in cands if p.type == type_word]
            cands = same or cands  # "huyện Hòa Bình" (Bạc Liêu), not "thành phố Hòa Bình"
        else:
            if key in self.rules.needs_type:
                return None
            # "Chũ" is also "chủ", "Vinh" also "Vĩnh": a one-syllable name needs a type word, or
            # for the few well known ones, its exact marks.
            short = " " not in key
            said = written.lower() if short else ""
            cands = [p for p in readings if p.kind in UNTYPED_KINDS and p.name[:1].isupper()
                     and not (short and (p.kind == "district" or p.name.lower() != said))]
            if not cands:
                weak = True
                cands = [p for p in readings if p.name[:1].isupper()]
        if not cands:
            return None
        return tuple(cands), weak

    def _settle(self, prep: Prepared, kept: list[Mention], priors: list[str], feed: str | None
                ) -> None:
        """Pick one reading per mention: unambiguous ones first, then the rest by context."""
        typed_reading: dict[str, Place] = {}
        for m in kept:
            # Communes are settled by context first ("xã Đức Minh (huyện Đắk Mil, Đắk Nông)" is
            # the former commune, not today's namesake in Hà Tĩnh); their rank only at the end.
            if m.typed and m.typed != "commune" and self._unique(m) and m.place:
                typed_reading.setdefault(m.key, m.place)
        # One name, one place: a bare name the item also says as a commune ("Về Tiên Lữ … xã
        # Tiên Lữ") is that commune, read once the commune is settled; until then it is no
        # context for it. (Not a province's name: "Đoàn Thái Bình thăm xã Thái Bình, Tây Ninh".)
        communes = {m.key for m in kept if m.typed == "commune"}
        deferred = {i for i, m in enumerate(kept) if not m.typed and m.key in communes
                    and not any(p.kind in PROVINCE_LEVEL for p in m.cands)}
        for i, m in enumerate(kept):
            if m.typed or m.place:
                continue
            if m.key in typed_reading:
                m.place = typed_reading[m.key]  # "huyện Hòa Bình … Hòa Bình là huyện…"
            elif not m.weak and i not in deferred:
                self._unique(m)
        for m in kept:
            # A bare district name that fits no other place named, where a commune of the same
            # name fits one ("Ngọc Hồi" beside Hà Nội is the commune, not the Kon Tum district).
            if m.place and not m.typed and m.place.kind in ("district", "landmark"):
                others = {n.place.code for n in kept if n.place and n.key != m.key
                          and self._says_where(n)}
                if others and m.place.code not in others:
                    alt = [p for p in self.gaz.places[m.key] if p.code in others]
                    if alt:
                        m.place = alt[0]
                    elif self.rules.facility_before.search(
                            prep.text[max(0, m.ts - 40) : m.ts]):
                        m.place = None
                        m.weak = True
        # A landmark across provinces (a bridge, a pass) says no one province by itself; a
        # comparison or an origin ("về quê ở Nghệ An") says nothing of where the others are.
        context = [m.place.code for m in kept if m.place and not m.place.also
                   and self._says_where(m)]
        for i, m in enumerate(kept):
            if m.place or i in deferred:
                continue
            codes = {p.code for p in m.cands}
            place = self._pick(kept, i, m.cands, context, feed, priors)
            if place is None and m.typed == "commune":
                # A commune's type word may be older than its namesake's in the gazetteer
                # ("xã Phong Hải" of 2014, a ward since): any commune of that name the item's
                # places or its feed point to.
                wider = tuple(p for p in self._readings(m.key, prep.text[m.ts : m.te], m.marked)
                              if p.kind in COMMUNE_KINDS and p not in m.cands)
                place = self._pick(kept, i, wider, context, feed, priors)
            if place is not None:
                m.place = place
            elif m.typed == "commune" and self._placed_elsewhere(kept, i, codes):
                m.weak = True  # "xã Điền Xá (Nam Định)": a namesake the gazetteer lacks
            elif m.typed == "commune" and len(codes) > 1:
                pass  # "xã Nam Giang" alone: communes (today's or former) of several provinces
                # bear the name and nothing in the item says which: no label (precision first)
            elif m.typed:
                self._unique(m)
        for i, m in enumerate(kept):
            if i in deferred and m.place is None:
                # the commune's reading, or (the commune unsettled) the name read as any other
                m.place = next((n.place for n in kept if n.typed == "commune"
                                and n.key == m.key and n.place is not None), None) \
                    or self._pick(kept, i, m.cands, context, feed, priors)
                if m.place is None and not m.weak:
                    self._unique(m)

    @staticmethod
    def _off_feed_dropped(settled: list[Mention], feed: str) -> list[Mention]:
        """A local outlet's item that other names place at home: a bare district or commune
        name ("Tân Sơn", "Tây Sơn") of another province, where nothing else names that
        province (its name, or a unit with its type word), is a namesake the gazetteer does
        not know: a hamlet, a street, a branch of the outlet's own province. (Alone, such a
        name is where the news is: "Cháy nhà ở Gò Vấp" in a Nghệ An paper.)"""
        named = {m.place.code for m in settled if m.place is not None
                 and (m.typed or m.place.kind in PROVINCE_LEVEL or m.place.kind == "landmark")}
        if feed not in named:
            return settled
        return [m for m in settled if m.typed or m.place is None or m.place.code == feed
                or m.place.code in named or m.place.kind not in LOCAL_KINDS]

    @staticmethod
    def _says_where(m: Mention) -> bool:
        """Whether a mention may settle where the item's other names lie: not a comparison or
        an origin ("về quê ở Nghệ An"), which is elsewhere by what it says."""
        return COMPARISON not in m.ends or ENUMERATION in m.ends

    @staticmethod
    def _pick(kept: list[Mention], i: int, cands: tuple[Place, ...], context: list[str],
              feed: str | None, priors: list[str]) -> Place | None:
        """Which of `cands` the mention kept[i] is by what the item says of its province: a
        place named right after it, then any other place named, then (a bare commune name only
        where nothing else is named) the feed's home and the source lines; None when nothing
        says."""
        m = kept[i]
        codes = {p.code for p in cands}
        pick = None
        for n in kept[i + 1 :]:
            if n.start - m.end > NEAR:
                break
            if n.place and n.place.code in codes:
                pick = n.place.code  # "xã Sơn Tây (Quảng Ngãi)"
                break
        if pick is None:
            pick = next((c for c in context if c in codes), None)
        if pick is None and (not m.weak or not context):  # a bare commune: the feed alone
            pick = next((c for c in [feed, *priors] if c in codes), None)
        return None if pick is None else next(p for p in cands if p.code == pick)

    @staticmethod
    def _placed_elsewhere(kept: list[Mention], i: int, codes: set[str]) -> bool:
        """Whether the unit named right after a commune ("xã X, huyện Y", "xã X (tỉnh Z)") lies
        in a province none of the commune's readings is in: the text says where it is."""
        m = kept[i]
        for n in kept[i + 1 :]:
            if n.start - m.end > NEAR:
                return False
            if n.place is not None and n.place.kind in ("province", "former_province",
                                                        "variant", "district"):
                return n.place.code not in codes
        return False

    @staticmethod
    def _unique(m: Mention) -> bool:
        """Settle on the best-ranked reading when all of them lie in one province."""
        best = [p for p in m.cands if p.rank == m.cands[0].rank]
        if len({p.code for p in best}) == 1:
            m.place = best[0]
        return m.place is not None

    def _labels(
        self, prep: Prepared, settled: list[Mention], feed: str | None
    ) -> tuple[list[str], list[Evidence], dict[str, float]]:
        """Provinces by weight, their evidence and their confidence (0..1).

        Weight: a name in the title (or, with no title, in the first sentence) counts 3, a title
        prefix ("Lào Cai: …") 3 more, a name in the summary 1, with its type word ("tỉnh X",
        "huyện Y") 0.5 more. A passing mention gives a label only when it is an institution's
        name and no other place is named. The feed's home province is a label only when the
        item speaks of an unnamed "tỉnh" and names no other province as its subject (in the
        title, or as "tỉnh X"). A bare name in the summary said in passing (`_aside`) is no label
        beside a province the title names."""
        if not settled:  # (most items of a feed without a place): its home alone, or nothing
            if feed and self._speaks_of_home(prep.text):
                return [feed], [_home_evidence(feed)], {feed: HOME_SCORE}
            return [], [], {}
        weight: dict[str, float] = {}
        passing: dict[str, float] = {}  # the weight of passing mentions
        first: dict[str, int] = {}
        evidence: list[Evidence] = []
        said: set[tuple[str, str]] = set()
        subject = False  # another province is named as the subject
        # With no title, the summary's first sentence stands for it.
        lead_start, lead_end = (0 if prep.title_end else 2), prep.headline_end()
        # The lead: the title and, after a title, the summary's first sentence (issue 10: a
        # province the title or lead names keeps the feed's home province from being a label).
        subject_end = 0
        if prep.title_end:
            found = find_sentence_end(prep.text, prep.title_end + 2)
            subject_end = found[1] if found else len(prep.text)
        # A comparison, an origin or an outlet is never a label, even alone ("quê Nghệ An").
        alone_ok = all(m.passing in ALONE_OK for m in settled)
        titled: set[str] = set()  # provinces the title (or lead) names as its place
        aside: set[str] = set()  # provinces named only by a bare name in passing in the summary
        named: set[str] = set()  # provinces with any other evidence
        # A landmark across provinces (a pass, a dam, a park) is where the item's other names
        # place it, when they name one of its provinces: "đèo Lò Xo … xã Khâm Đức, Đà Nẵng".
        # Not a land's old name ("xứ Nghệ"): the spec labels it with each of its provinces.
        located = {m.place.code for m in settled
                   if m.place is not None and m.place.kind != "landmark" and not m.passing}
        for i, m in enumerate(settled):
            place = m.place
            assert place is not None, "a settled mention has its reading"
            code = place.code
            in_title = m.ts < lead_end
            spans = (code, *place.also)
            if place.also and place.district != REGION and located.intersection(spans):
                spans = tuple(c for c in spans if c in located)
                code = spans[0]
            if m.passing:
                for c in spans:
                    passing[c] = passing.get(c, 0.0) + PASSING_WEIGHT
            else:
                if in_title:
                    titled.update(spans)
                elif titled and self._aside(prep, settled, i):  # the title comes first
                    aside.add(code)
                else:
                    named.update(spans)
                w = 3.0 if in_title else 1.0
                if m.quote_start == lead_start and prep.text[m.te : m.te + 1] == ":":
                    w += 3.0  # title prefix "Thái Bình: …"
                if m.typed:
                    w += 0.5  # "tỉnh X", "huyện Y": named as a unit
                for c in spans:  # a landmark across provinces: each of them
                    weight[c] = weight.get(c, 0.0) + w
                    first.setdefault(c, m.ts)
                subject = subject or (code != feed and (m.ts < subject_end
                                                        or m.typed == "province"))
            first.setdefault(code, m.ts)
            quote = prep.text[m.quote_start : m.te]
            folded_quote = quote.casefold()
            for c in spans:  # a landmark across provinces: evidence for each
                if (c, folded_quote) not in said:
                    said.add((c, folded_quote))
                    evidence.append(self._evidence(place, quote, m.passing, c))
        scores = {code: _confidence(w) for code, w in weight.items()}
        for code in aside - named - titled:
            if weight[code] <= 1.0:
                del weight[code]  # the title says where the news is; this name is an aside
        if not weight and alone_ok and (len(passing) == 1 or (
                passing and all(m.passing == ROUTE for m in settled))):
            # The only place named, in an institution's name or a person's identification: its
            # own news, or the person's, perhaps; a vehicle's route, when it is all the item
            # names ("xe khách chạy hướng từ Lạng Sơn về Hà Nội bị phạt"): both its ends.
            for code in passing:
                weight[code], scores[code] = passing[code], PASSING_ONLY_SCORE
        if feed and feed not in weight and not subject and self._speaks_of_home(prep.text):
            weight[feed], first[feed], scores[feed] = 0.5, len(prep.text), HOME_SCORE
            evidence.append(_home_evidence(feed))
        codes = sorted(weight, key=lambda c: (-weight[c], first[c]))
        evidence = [e for e in evidence if e.label in weight]
        evidence.sort(key=lambda e: codes.index(e.label))
        return codes, evidence, {c: scores[c] for c in codes}

    def _evidence(self, place: Place, quote: str, passing: str, code: str) -> Evidence:
        """The evidence for `code` of a name said `quote` and read as `place` (`passing`: why
        in passing, or ""), built once per reading and wording (NAME_CACHE): names recur across
        items. Told apart by the place's identity, not its value: the gazetteer's places live
        as long as the reader, and a frozen dataclass compares in generated Python."""
        known = _by_wording(self._evidence_cache, quote)
        for p, why, c, found in known:
            if p is place and why == passing and c == code:
                return found
        chain = place.chain(quote) + (f" ({passing})" if passing else "")
        found = Evidence(EvidenceKind.PROVINCE, code, quote, chain)
        known.append((place, passing, code, found))
        return found

    def _aside(self, prep: Prepared, settled: list[Mention], i: int) -> bool:
        """A bare name in the summary that is not where something happens: no type word, no
        landmark, not a sentence's subject, no venue word ("tại", "ở", "từ") before it, not
        listed beside another place ("ở Huế, Đà Nẵng", "phà Cần Giờ - Gò Công")."""
        m, text = settled[i], prep.text
        if m.typed or (m.place is not None and m.place.kind == "landmark"):
            return False
        before = text[max(prep.title_end, m.quote_start - 40) : m.quote_start]
        if not before.strip() or _CLAUSE_START.search(before) \
                or _ends_before(before, self._venue_or_from, 2, m.marked):
            return False
        neighbours = [(settled[j], m) for j in (i - 1,) if j >= 0] \
            + [(m, settled[j]) for j in (i + 1,) if j < len(settled)]
        return not any((_LIST_GAP.fullmatch(gap := text[a.te : b.quote_start])
                        or _RANGE_GAP.fullmatch(gap)) and not a.passing
                       and not b.passing for a, b in neighbours)

    def _names_a_place(self, after: str) -> bool:
        """Whether `after` starts with a place name (of two words or more, or a province's)."""
        words = after.split(maxsplit=4)[:4]
        for n in range(1, len(words) + 1):
            readings = self.gaz.places.get(match_key(" ".join(words[:n])), ())
            if readings and (n > 1 or readings[0].kind in PROVINCE_LEVEL):
                return True
        return False

    def _speaks_of_home(self, text: str) -> bool:
        """"Ủy ban MTTQ Việt Nam tỉnh tổ chức…", "HĐND tỉnh", "toàn tỉnh", "Tỉnh ủy"."""
        rules = self.rules
        if rules.home_council.search(text):
            return True
        for m in matches(rules.home_unit, text, rules.home_unit_gate.starts(text)):
            after = text[m.end() :].lstrip(" ")
            abbreviated = len(m.group(1)) == 2
            if abbreviated:  # with its dot: "TP. Cần Thơ" is named
                after = after.lstrip(". ")
            if after[:1].isdigit() or (after[:1].isupper() and (
                    abbreviated or self._names_a_place(after))):
                # A named unit, not "tỉnh Phan Mộng Thành" (the chairman's name); after "TP" a
                # capital is always the city's name, one abroad too ("TP Osaka").
                continue
            words = after.split(maxsplit=1)
            if words and words[0].strip(",.;:)").lower() in self.rules.other_after:
                continue
            prev = _last_word(text, m.start())
            if prev and (prev.group(1).isdigit()  # "10 tỉnh bị ảnh hưởng", as "mười tỉnh"
                         or prev.group(1).lower() in self.rules.generic_before):
                continue
            return True
        return False
