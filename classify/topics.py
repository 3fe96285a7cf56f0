"""Topic rules (data/topic_rules.toml) and how an item's phrase matches add up to topics."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalog import topics as catalog_topics
from classify.textmap import Prepared, match_key
from vntext import normalize

TOPIC_RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "topic_rules.toml"
ROLES = ("strong", "weak", "not", "veto")


class TopicRulesError(ValueError):
    """The rules file names an unknown topic or has a malformed entry."""


@dataclass(frozen=True, slots=True)
class PhraseRef:
    slug: str
    role: str  # strong | weak | together | not | veto | name
    group: int  # which `together` group; 0 otherwise
    exact: str | None  # lowercase phrase with marks, when it must match with them ("=bão")
    phrase: str  # as written in the rules, for evidence


@dataclass
class TopicRules:
    phrases: dict[str, list[PhraseRef]]  # folded key → where it is used
    groups: dict[str, int]  # slug → number of `together` groups
    yield_to: dict[str, tuple[str, ...]]


def _parse_phrase(raw: str) -> tuple[str, str | None, str]:
    """"=bão" → ("bao", "bão", "bão"); "Nhà Đại đoàn kết" → ("nha dai doan ket", None, ...)."""
    exact = raw.startswith("=")
    text = normalize(raw[1:] if exact else raw)
    return match_key(text), (text.lower() if exact else None), text


def load_topic_rules(path: Path = TOPIC_RULES_FILE) -> TopicRules:
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    known = catalog_topics()
    phrases: dict[str, list[PhraseRef]] = {}
    groups: dict[str, int] = {}
    yield_to: dict[str, tuple[str, ...]] = {}

    def add(raw: object, slug: str, role: str, group: int = 0) -> None:
        if not isinstance(raw, str) or not raw.strip("= "):
            raise TopicRulesError(f"{path.name}: [{slug}] {role}: expected a phrase, got {raw!r}")
        key, exact, text = _parse_phrase(raw)
        phrases.setdefault(key, []).append(PhraseRef(slug, role, group, exact, text))

    for slug, rule in data.items():
        if slug not in known:
            raise TopicRulesError(f"{path.name}: unknown topic [{slug}]")
        for name in [known[slug].name_vi, *rule.get("names", [])]:
            add(name, slug, "name")
        for role in ROLES:
            for raw in rule.get(role, []):
                add(raw, slug, role)
        together = rule.get("together", [])
        for i, group in enumerate(together):
            for raw in group:
                add(raw, slug, "together", i)
        groups[slug] = len(together)
        unknown = set(rule.get("yield_to", [])) - set(known)
        if unknown:
            raise TopicRulesError(f"{path.name}: [{slug}] yield_to unknown topics {sorted(unknown)}")
        yield_to[slug] = tuple(rule.get("yield_to", []))
    return TopicRules(phrases=phrases, groups=groups, yield_to=yield_to)


@lru_cache(maxsize=1)
def get_topic_rules() -> TopicRules:
    return load_topic_rules()


@dataclass
class _Tally:
    strong: dict[str, tuple[int, int]] = field(default_factory=dict)  # key → first text span
    weak: dict[str, tuple[int, int]] = field(default_factory=dict)
    together: dict[int, tuple[int, int]] = field(default_factory=dict)
    blocked: list[tuple[int, int]] = field(default_factory=list)
    vetoed: bool = False


def score_topics(
    prep: Prepared, hits: list[tuple[int, int, str]], rules: TopicRules
) -> tuple[list[str], list[dict[str, Any]]]:
    """Topics (catalog order) and their evidence, from the topic phrases found in the text.

    `hits` are (start, end, key) spans of `prep.folded`, overlapping ones included.
    """
    tallies: dict[str, _Tally] = {}
    lowered: str | None = None
    for start, end, key in hits:
        span = None
        for ref in rules.phrases[key]:
            if ref.role == "name":
                continue
            if span is None:
                span = prep.span(start, end)
            if ref.exact is not None:
                if lowered is None:
                    lowered = prep.text.lower()
                if lowered[span[0] : span[1]] != ref.exact:
                    continue
            tally = tallies.setdefault(ref.slug, _Tally())
            if ref.role == "not":
                tally.blocked.append(span)
            elif ref.role == "veto":
                tally.vetoed = True
            elif ref.role == "strong":
                tally.strong.setdefault(key, span)
            elif ref.role == "weak":
                tally.weak.setdefault(key, span)
            else:
                tally.together.setdefault(ref.group, span)

    given: dict[str, list[tuple[int, int]]] = {}
    n_strong: dict[str, int] = {}
    for slug, tally in tallies.items():
        if tally.vetoed:
            continue

        def free(span: tuple[int, int], blocked: list[tuple[int, int]] = tally.blocked) -> bool:
            return not any(span[0] < b_end and b_start < span[1] for b_start, b_end in blocked)

        strong = [s for s in tally.strong.values() if free(s)]
        weak = [s for s in tally.weak.values() if free(s)]
        together = {g: s for g, s in tally.together.items() if free(s)}
        n_groups = rules.groups.get(slug, 0)
        n_strong[slug] = len(strong)
        if strong:
            given[slug] = strong
        elif len(weak) >= 2:
            given[slug] = weak
        elif n_groups and len(together) == n_groups:
            given[slug] = [together[g] for g in range(n_groups)]
    for slug in list(given):
        if any(other in given for other in rules.yield_to.get(slug, ())) and n_strong[slug] < 2:
            del given[slug]

    order = list(catalog_topics())
    labels = sorted(given, key=order.index)
    evidence = []
    for slug in labels:
        quoted = " + ".join(f'"{prep.text[a:b]}"' for a, b in sorted(given[slug])[:3])
        evidence.append({"kind": "topic", "label": slug, "text": prep.text[slice(*min(given[slug]))],
                         "resolved": f"{quoted} → {slug} ({catalog_topics()[slug].name_vi})"})
    return labels, evidence
