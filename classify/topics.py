"""Topic rules (data/topic_rules.toml) and how an item's phrase matches add up to topics.

Speed: the hot loop is hand-written to do little per hit (bounds and marks read once, hits no
rule counts skipped), and the module is compiled with mypyc where a compiler is at hand
(classify/native.py): what was left is the interpreter's own overhead, which compiled code
mostly removes. Keep it mypy-strict; the source is what runs without a compiler.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Final

from catalog import Topic
from catalog import topics as catalog_topics
from classify.evidence import Evidence, EvidenceKind
from classify.textmap import MARKED, Prepared, match_key
from classify.wordgate import BoundedWords, matches
from vntext import normalize

TOPIC_RULES_FILE: Final = Path(__file__).resolve().parents[1] / "data" / "topic_rules.toml"
LISTS: Final = ("strong", "keep", "weak", "not", "veto", "veto_weak")
KNOWN_KEYS: Final = {"names", "yield_to", *LISTS}
PASSING_GAP: Final = 3  # words between a passing phrase ("nhân dịp") and the topic phrase it covers
# A name in quotes after its head word ('nhà "Đại đoàn kết"', 'Quỹ “Vì người nghèo”'): the
# opening quote reads as a second space (textmap), so a phrase holding a head word of the rules'
# `quoted_after` is also keyed with two spaces after it (an exclusion after any of its words:
# 'sau "bão" Covid'), and its wording is read without the quote marks.
_QUOTE_MARKS: Final = re.compile(r"[\"“”‘’'«»]")

Span = tuple[int, int]


class TopicRulesError(ValueError):
    """The rules file names an unknown topic or has a malformed entry."""


@dataclass(frozen=True, slots=True)
class PhraseRef:
    slug: str
    role: str  # name | strong | keep | weak | not | veto | veto_weak | together
    combo: int  # which `together…` list, for role "together"
    group: int  # which group of that list
    exact: str | None  # the lowercase phrase, when written with marks: "bão" must not match "báo"
    # Whether a passing phrase before it ("nhân dịp") takes it back: not for exclusions and
    # vetoes, nor weak phrases (read at every hit: set once).
    passable: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passable",
                           self.role not in ("not", "veto", "veto_weak", "weak"))


@dataclass
class TopicRules:
    phrases: dict[str, list[PhraseRef]]  # folded key → where it is used
    combos: dict[str, list[int]]  # slug → number of groups of each `together…` list
    # slug → the `together_keep…` lists among them, which still count beside a yield_to topic
    keep_combos: dict[str, frozenset[int]]
    yield_to: dict[str, tuple[str, ...]]
    names: dict[str, Topic]  # the catalogue's topics by slug, in the spec's order
    # A phrase within a few words after one of these, in the same clause, is mentioned in
    # passing ("nhân dịp lễ Vu Lan"): it gives no topic. Lowercase, with marks.
    passing: re.Pattern[str] | None = None
    # The same words: any passing phrase at all (most items have none), and where one starts.
    passing_any: BoundedWords | None = None
    # The passing phrases folded as Prepared.folded reads them: where none is in the folded text
    # (Classifier's scan looks for them), none is in the text.
    passing_keys: frozenset[str] = frozenset()
    # News from abroad ([abroad]): a foreign place in the title, no Vietnamese one in the item.
    abroad_places: re.Pattern[str] | None = None
    abroad_gate: BoundedWords | None = None  # the same words: where one starts
    home_words: BoundedWords | None = None
    anywhere: frozenset[str] = frozenset()  # topics that happen abroad too
    # Each key's refs that may give evidence (not "name"), in order, read once at load:
    # (by how a phrase written with marks is said, the refs it matches; the refs of a phrase
    # said without marks, in text with marks; the refs that count in text typed without marks).
    evidence_refs: dict[str, _KeyRefs] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.evidence_refs = {key: _key_refs(key, refs) for key, refs in self.phrases.items()}

    def abroad(self, prep: Prepared) -> bool:
        """Whether an item that names no Vietnamese place is foreign news: its title names a
        foreign place and the item none of the home words ("Việt Nam", "kiều bào")."""
        if self.abroad_places is None or self.home_words is None \
                or self.home_words.search(prep.text):
            return False
        text, title = prep.text, prep.text[: prep.title_end]
        # (the pattern tried only where a place starts: `re` tries its alternation everywhere)
        starts = self.abroad_gate.starts(title) if self.abroad_gate is not None else None
        return any(not _in_longer_name(text, m.start(), m.end())
                   for m in matches(self.abroad_places, title, starts))


_KeyRefs = tuple[dict[str, tuple[PhraseRef, ...]], tuple[PhraseRef, ...], tuple[PhraseRef, ...]]


def _key_refs(key: str, refs: list[PhraseRef]) -> _KeyRefs:
    """`TopicRules.evidence_refs` of one key: what score_topics checks ref by ref, sorted out
    once. In text with marks, a ref with an exact wording counts when the phrase is said so, one
    without only when the phrase is said without marks; in text typed without marks, a ref with
    an exact wording counts only for a phrase of several words."""
    refs = [r for r in refs if r.role != "name"]
    exact = {r.exact: tuple(x for x in refs if x.exact == r.exact)
             for r in refs if r.exact is not None}
    plain = tuple(r for r in refs if r.exact is None)
    unmarked = tuple(r for r in refs if r.exact is None or " " in key)
    return exact, plain, unmarked


def load_topic_rules(path: Path = TOPIC_RULES_FILE) -> TopicRules:
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    passing_words = data.pop("passing", [])
    quoted_after = {match_key(normalize(w)) for w in data.pop("quoted_after", [])}
    abroad = data.pop("abroad", {})
    if not isinstance(passing_words, list) or not all(isinstance(w, str) for w in passing_words):
        raise TopicRulesError(f"{path.name}: passing: expected a list of phrases")
    known = catalog_topics()
    phrases: dict[str, list[PhraseRef]] = {}
    combos: dict[str, list[int]] = {}
    keep_combos: dict[str, frozenset[int]] = {}
    yield_to: dict[str, tuple[str, ...]] = {}

    def add(raw: object, slug: str, role: str, combo: int = 0, group: int = 0) -> None:
        if not isinstance(raw, str) or not match_key(normalize(raw)):
            raise TopicRulesError(f"{path.name}: [{slug}] {role}: expected a phrase, got {raw!r}")
        text = normalize(raw)
        exact = text.lower() if MARKED.search(text) else None
        ref = PhraseRef(slug, role, combo, group, exact)
        key = match_key(text)
        phrases.setdefault(key, []).append(ref)
        words = key.split(" ")
        for at in range(1, len(words)):  # 'nhà "Đại đoàn kết"', 'sau "bão" Covid'
            head = " ".join(words[:at])
            if role == "not" or any(head == h or head.endswith(f" {h}") for h in quoted_after):
                phrases.setdefault(f"{head}  {' '.join(words[at:])}", []).append(ref)

    for slug, rule in data.items():
        if slug not in known:
            raise TopicRulesError(f"{path.name}: unknown topic [{slug}]")
        odd = [k for k in rule if k not in KNOWN_KEYS and not k.startswith("together")]
        if odd:
            raise TopicRulesError(f"{path.name}: [{slug}] unknown keys {odd}")
        for name in [known[slug].name_vi, *rule.get("names", [])]:
            add(name, slug, "name")
        for role in LISTS:
            for raw in rule.get(role, []):
                add(raw, slug, role)
        combos[slug] = []
        lists = [k for k in rule if k.startswith("together")]
        for combo, key in enumerate(lists):
            for group, phrases_ in enumerate(rule[key]):
                for raw in phrases_:
                    add(raw, slug, "together", combo, group)
            combos[slug].append(len(rule[key]))
        keep_combos[slug] = frozenset(i for i, k in enumerate(lists)
                                      if k.startswith("together_keep"))
        unknown = set(rule.get("yield_to", [])) - set(known)
        if unknown:
            raise TopicRulesError(
                f"{path.name}: [{slug}] yield_to unknown topics {sorted(unknown)}"
            )
        yield_to[slug] = tuple(rule.get("yield_to", []))
    passing = passing_any = None
    passing_keys: frozenset[str] = frozenset()
    if passing_words:
        lowered = [normalize(w).lower() for w in passing_words]
        words = "|".join(re.escape(w) for w in sorted(lowered, key=len, reverse=True))
        # The passing phrase, then up to PASSING_GAP words and no clause mark, then the end.
        passing = re.compile(rf"(?<!\w)(?:{words})(?:\s+[^\s,;:.!?()]+){{0,{PASSING_GAP}}}\s+$")
        passing_any = BoundedWords(lowered)
        passing_keys = frozenset(match_key(normalize(w)) for w in passing_words)
    anywhere = set(abroad.get("anywhere", []))
    if anywhere - set(known):
        raise TopicRulesError(f"{path.name}: [abroad] anywhere: unknown topics "
                              f"{sorted(anywhere - set(known))}")
    return TopicRules(phrases=phrases, combos=combos, keep_combos=keep_combos,
                      yield_to=yield_to, names=known, passing=passing,
                      passing_any=passing_any, passing_keys=passing_keys,
                      abroad_places=_words(abroad.get("places", [])),
                      abroad_gate=BoundedWords(normalize(w) for w in abroad.get("places", [])),
                      home_words=(BoundedWords(normalize(w) for w in abroad["home_words"])
                                  if abroad.get("home_words") else None),
                      anywhere=frozenset(anywhere))


def _in_longer_name(text: str, start: int, end: int) -> bool:
    """"Trương Mỹ Hoa", "Cồn Mỹ Hòa Hưng": a capitalised word right before or right after the
    name makes it part of another name."""
    before = text[max(0, start - 30) : start]
    previous = before.split()[-1] if before.endswith(" ") and before.strip() else ""
    following = text[end + 1 : end + 30].split()[:1] if text[end : end + 1] == " " else []
    return previous[:1].isupper() or bool(following and following[0][:1].isupper())


def _words(words: list[str]) -> re.Pattern[str] | None:
    """Any of `words`, as written (case and marks), on word bounds; None for none."""
    if not words:
        return None
    alternation = "|".join(re.escape(normalize(w)) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")


@lru_cache(maxsize=1)
def get_topic_rules() -> TopicRules:
    return load_topic_rules()


class _Sentences:
    """Which sentence of the text an offset is in (the title is one)."""

    _END: ClassVar[re.Pattern[str]] = re.compile(r"[.!?;\n](?=\s|$)|\n")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends: list[int] | None = None  # found on the first call: most items never ask

    def __call__(self, pos: int) -> int:
        if self.ends is None:
            self.ends = [m.start() for m in self._END.finditer(self.text)]
        return bisect_left(self.ends, pos)


@dataclass(init=False)
class _Tally:
    strong: dict[str, Span] = field(default_factory=dict)  # key → first span
    keep: dict[str, Span] = field(default_factory=dict)  # strong, and immune to yield_to
    weak: dict[str, Span] = field(default_factory=dict)
    together: dict[tuple[int, int], list[Span]] = field(default_factory=dict)
    blocked: list[Span] = field(default_factory=list)
    vetoes: list[Span] = field(default_factory=list)  # a `not` phrase takes one back, as others
    weak_vetoes: list[Span] = field(default_factory=list)  # against weak phrases only

    # Written out (dataclass init=False): compiled, the generated __init__ runs as Python.
    def __init__(self) -> None:
        self.strong, self.keep, self.weak = {}, {}, {}
        self.together = {}
        self.blocked = []
        self.vetoes, self.weak_vetoes = [], []

    def free(self, span: Span) -> bool:
        return not self.blocked or not any(span[0] < e and s < span[1] for s, e in self.blocked)

    def keep_only(self, keep_combos: frozenset[int]) -> None:
        """Forget every phrase but the `keep` ones and the `together_keep…` lists'."""
        self.strong, self.weak = {}, {}
        self.together = {k: v for k, v in self.together.items() if k[0] in keep_combos}

    def vetoed(self) -> bool:
        return bool(self.vetoes) and any(self.free(s) for s in self.vetoes)

    def has_phrases(self) -> bool:
        """Whether a phrase that speaks for the topic was found, outside a `not` phrase."""
        return any(self.free(span) for span in self.strong.values()) \
            or any(self.free(span) for span in self.keep.values()) \
            or any(self.free(span) for span in self.weak.values()) \
            or any(self.free(span) for group in self.together.values() for span in group)

    def evidence(self, combos: list[int], sentence: _Sentences) -> list[Span]:
        """The spans that give the topic, or [] when they do not add up to it."""
        if self.vetoed():
            return []
        if self.keep or self.strong:
            # (each dict read on its own: compiled, a list unpacking them reads them as Python)
            strong = [s for s in self.keep.values() if self.free(s)]
            strong += [s for s in self.strong.values() if self.free(s)]
            if strong:
                return strong
        if len(self.weak) >= 2 and not any(self.free(s) for s in self.weak_vetoes):
            # (two spans at least, apart)
            weak = _apart([s for s in self.weak.values() if self.free(s)])
            if len(weak) >= 2:
                return weak
        if not self.together:
            return []
        # A list gives the topic only when each of its groups has a span: most tallies lack a
        # group of every list and need no sentences. Then one pass over the spans (not one per
        # list): list → sentence → group → first span.
        present: dict[int, int] = {}
        for combo, _ in self.together:
            present[combo] = present.get(combo, 0) + 1
        if all(present.get(combo, 0) < n_groups for combo, n_groups in enumerate(combos)):
            return []
        by_combo: dict[int, dict[int, dict[int, Span]]] = {}
        for (combo, group), spans in self.together.items():
            for span in spans:
                if self.free(span):
                    by_combo.setdefault(combo, {}).setdefault(
                        sentence(span[0]), {}).setdefault(group, span)
        for combo, n_groups in enumerate(combos):
            for found in by_combo.get(combo, {}).values():
                if len(found) == n_groups:
                    return [found[g] for g in range(n_groups)]
        return []


def _in_passing(text: str, start: int, rules: TopicRules) -> bool:
    """"nhân dịp Đại lễ Vu Lan", "trong bối cảnh biến đổi khí hậu": a mention in passing."""
    if rules.passing is None:
        return False
    before = text[max(0, start - 60) : start].lower()
    # The pattern is tried only where a passing phrase starts (`re` would try its alternation
    # at every character).
    starts = rules.passing_any.starts(before) if rules.passing_any is not None else None
    return bool(matches(rules.passing, before, starts))


def _apart(spans: list[Span]) -> list[Span]:
    """Spans that do not overlap each other: "lấy ý kiến" and its "ý kiến" count once."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: s[0] - s[1]):
        if not any(span[0] < e and s < span[1] for s, e in kept):
            kept.append(span)
    return kept


def score_topics(
    prep: Prepared, hits: list[tuple[int, int, str]], rules: TopicRules,
    passing_folded: bool = True,
) -> tuple[list[str], list[Evidence], set[str]]:
    """Topics (catalog order), their evidence and the signals the topic model reads: each topic
    given ("thien-tai-cuu-tro"), given from the headline (":title": the title, or with none the
    summary's first sentence), by two phrases or more (":many"), denied (":veto": vetoed, or
    only mentioned in passing).

    `hits` are (start, end, key) spans of `prep.folded`, overlapping ones included;
    `passing_folded` False says that no key of `rules.passing_keys` is in it (so no passing
    phrase is in the text: its search is skipped).
    """
    tallies: dict[str, _Tally] = {}
    text = prep.text
    # Hot loop (every hit of every item): what each hit's refs share is read once per hit, and
    # whether the text holds a passing phrase at all only when a ref first asks.
    may_pass: bool | None = None if passing_folded else False
    passed: set[str] = set()  # topics with a phrase mentioned in passing
    evidence_refs = rules.evidence_refs
    title_end, title_marked, summary_marked = prep.title_end, prep.title_marked, \
        prep.summary_marked
    for start, end, key in hits:
        ts, te = start - 1, end - 1  # prep.span
        exact, plain, unmarked = evidence_refs[key]
        if not (title_marked if ts < title_end else summary_marked):
            # Typed without marks: "bao" is "bão", "báo" or "bao", no evidence alone.
            refs = unmarked
        else:
            # With marks, a phrase with an exact wording counts only when said so, and a phrase
            # without marks ("Ba Na") is not a marked word ("Bà Nà"). (No ref of `plain` holds a
            # marked wording: a span said as one holds marks.)
            found = None
            if exact:
                said = text[ts:te].lower()
                if "  " in key:  # a quoted name: its wording without the quote marks
                    said = " ".join(_QUOTE_MARKS.sub(" ", said).split())
                found = exact.get(said)
            refs = found if found is not None else \
                plain if plain and not MARKED.search(text, ts, te) else ()
        if not refs:
            continue  # (a quarter of hits: a wording the rules do not use, "báo" for "bão")
        span = ts, te
        for ref in refs:
            if ref.passable:
                if may_pass is None:
                    may_pass = rules.passing_any is not None \
                        and rules.passing_any.search(text.lower())
                if may_pass and _in_passing(text, span[0], rules):
                    passed.add(ref.slug)
                    continue
            tally = tallies.get(ref.slug)
            if tally is None:
                tally = tallies[ref.slug] = _Tally()
            if ref.role == "not":
                tally.blocked.append(span)
            elif ref.role == "veto":
                tally.vetoes.append(span)
            elif ref.role == "veto_weak":
                tally.weak_vetoes.append(span)
            elif ref.role == "together":
                tally.together.setdefault((ref.combo, ref.group), []).append(span)
            elif ref.role == "strong":  # (written out: compiled, getattr is generic)
                tally.strong.setdefault(key, span)
            elif ref.role == "weak":
                tally.weak.setdefault(key, span)
            else:
                getattr(tally, ref.role).setdefault(key, span)
    # A veto, or phrases only in passing, is the rules' last word: the topic model may not give
    # the topic either (spec: a mention in passing is no topic).
    vetoed = {f"{slug}:veto" for slug, tally in tallies.items() if tally.vetoed()}
    vetoed.update(f"{slug}:veto" for slug in passed
                  if slug not in tallies or not tallies[slug].has_phrases())
    if not tallies:
        return [], [], vetoed
    sentence = _Sentences(prep.text)
    given = {slug: spans for slug, tally in tallies.items()
             if (spans := tally.evidence(rules.combos[slug], sentence))}
    for slug in [s for s in given if any(o in given for o in rules.yield_to[s])]:
        # Beside the topic it yields to, only its `keep` phrases count: the houses' or the
        # relief's recipients being poor is no poverty news (spec: companion topics).
        tallies[slug].keep_only(rules.keep_combos[slug])
        spans = tallies[slug].evidence(rules.combos[slug], sentence)
        if spans:
            given[slug] = spans
        else:
            del given[slug]

    names = rules.names
    labels = [slug for slug in names if slug in given]
    evidence: list[Evidence] = []
    signals = set(labels) | vetoed
    headline_end = prep.headline_end()
    for slug in labels:
        spans = sorted(given[slug])
        if spans[0][0] < headline_end:
            signals.add(f"{slug}:title")
        if len(spans) > 1:
            signals.add(f"{slug}:many")
        quoted = " + ".join(f'"{prep.text[a:b]}"' for a, b in spans[:3])
        evidence.append(_evidence(slug, prep.text[slice(*spans[0])],
                                  f"{quoted} → {slug} ({names[slug].name_vi})"))
    return labels, evidence, signals


_EVIDENCE: Final[dict[str, Evidence]] = {}
_EVIDENCE_CACHE: Final = 8_192


def _evidence(slug: str, text: str, resolved: str) -> Evidence:
    """`Evidence(TOPIC, slug, text, resolved)`, one instance per value: the same phrases give
    the same evidence over and over, and a dataclass is built in Python. Looked up by
    `resolved` alone (it quotes `text` and names `slug`, so it differs where they do; both are
    compared all the same): a string hashes in C, where EvidenceKind's hash is Python's."""
    found = _EVIDENCE.get(resolved)
    if found is None or found.text != text or found.label != slug:
        if len(_EVIDENCE) >= _EVIDENCE_CACHE:
            _EVIDENCE.clear()
        found = _EVIDENCE[resolved] = Evidence(EvidenceKind.TOPIC, slug, text, resolved)
    return found
