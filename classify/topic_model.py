"""The learned part of topic classification: words where the rules stop, weighed against them.

Two stages, trained by scripts/train_topics.py (scikit-learn, the `topics` extra) on the dev
split only and exported to data/topic_model.json.gz; reading it here needs the stdlib alone.
1. Words: per topic, a logistic regression's logit over the item's folded words, words said
   twice or more, word pairs and title words (a sum of the weights of the features present).
2. Stack: one small logistic regression, shared by the topics, over a topic's words logit and
   what the rules said of it (fired; from the headline; by several phrases): it was trained on
   the rules' verdicts on labelled news they had not yet seen (data/topic_holdout.jsonl), so it
   knows how far each side holds. Its probability is the topic's confidence
   (`Classification.scores`).

The rules keep the evidence and the last word where they spoke firmly: the model confirms,
drops or adds a topic, but never drops one the rules found in the headline nor gives one they
denied. A topic it adds on its own shows the words that weighed most. Hand-written because the
model is a table of weights: reading it needs no library, loads in milliseconds and costs a
dictionary lookup per word (and less in C, classify/wordweights.c, where it was compiled).

Compiled with mypyc where a compiler is at hand (classify/native.py): it weighs every item.
"""

from __future__ import annotations

import gzip
import json
import math
import struct
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Final

from catalog import topics as catalog_topics
from classify import native

if TYPE_CHECKING:
    from classify._wordweights import WordWeights

MODEL_FILE: Final = Path(__file__).resolve().parents[1] / "data" / "topic_model.json.gz"
# The words' logit is clipped to this (probability 1e-4 .. 1 - 1e-4) before the stack reads it.
LOGIT_CAP: Final = 9.2
# The stack's inputs for one topic, in the order of its weights in the model file.
STACK_INPUTS: Final = ("rule", "title", "many", "words", "rule_words")


def features(folded: str, title_end: int) -> set[str]:
    """The binary features of an item, as training sees them. `folded` is Prepared.folded
    (title, then summary, one character further on than the text), `title_end` where the title
    ends in the text (Prepared caps both, which bounds the pairs). TopicModel.word_logits reads
    the same features without building them all (the pairs are found by the classifier's
    automaton)."""
    words = folded.split()
    out = {f"w:{w}" for w in words}
    # A word said again is what the item is about more often than a word said once.
    out.update(f"r:{w}" for w, n in Counter(words).items() if n > 1)
    # A pair is two words one space apart, as the automaton's padded keys find them (a comma or
    # the title's end between them leaves two spaces: no pair).
    out.update(f"b:{a} {b}" for a, b in pairwise(folded.split(" ")) if a and b)
    out.update(f"t:{w}" for w in folded[: title_end + 1].split())
    return out


TopicWeights = tuple[tuple[int, float], ...]  # (topic index, weight), as the model file has them

# A feature's weights for all topics packed into one integer, a field of FIELD bits per topic in
# units of 1/UNIT (the file rounds weights to four decimals, so this is exact): an item's logits
# are then one integer addition per feature found, not one float addition per topic it weighs.
# Packing is linear (pack(a) + pack(b) == pack(a + b)); `unpack` reads the fields of a sum of
# packed vectors plus `offset(n)`, which keeps every field in 0 .. 2**FIELD as long as each
# topic's sum stays within ±2**31 / UNIT = ±214,748: an item (capped by Prepared) holds a few
# hundred features at most, and no weight comes near 100.
FIELD: Final = 32
UNIT: Final = 10_000
_HALF: Final = 1 << (FIELD - 1)
_MASK: Final = (1 << FIELD) - 1


def pack(weights: TopicWeights) -> int:
    return sum(round(w * UNIT) << (FIELD * i) for i, w in weights)


@lru_cache(maxsize=4)
def offset(n: int) -> int:
    """What `unpack` expects added to a sum of packed vectors of `n` topics."""
    return sum(_HALF << (FIELD * i) for i in range(n))


def unpack(total: int, n: int) -> list[float]:
    """The `n` fields of `total` (a sum of packed vectors plus `offset(n)`), as floats: its bytes
    read as unsigned 32-bit integers (a shift and a mask per field would copy the whole number
    each time)."""
    return [weight / UNIT for weight in units(total, n)]


def units(total: int, n: int) -> list[int]:
    """The `n` fields of `total` (as `unpack` reads them) as integers: the weights in units."""
    return [field - _HALF for field in _layout(n).unpack(total.to_bytes(4 * n, "little"))]


def unpack_one(total: int, index: int) -> float:
    """Field `index` of `total` (as `unpack` reads them all): one shift and mask, for a caller
    that asks for one topic only."""
    return (((total >> (FIELD * index)) & _MASK) - _HALF) / UNIT


@lru_cache(maxsize=4)
def _layout(n: int) -> struct.Struct:
    return struct.Struct(f"<{n}I")  # FIELD bits each


@dataclass(frozen=True)
class Stack:
    """Stage 2's weights (STACK_INPUTS): z = bias + rule·r + title·t + many·m + words·w
    + rule_words·r·w, where r, t, m are 1 when the rules gave the topic (from the headline, by
    several phrases) and w is the words' clipped logit."""
    bias: float
    rule: float
    title: float
    many: float
    words: float
    rule_words: float


@dataclass(frozen=True)
class TopicModel:
    slugs: tuple[str, ...]
    # The words' logits: packed weights (see `pack`) by feature (see `features`): a word
    # anywhere in the item (every word `repeated` has is here too, at 0 when it weighs only
    # said again), what a word said again adds, a pair ("first second"), a word of the title;
    # `start` is the packed biases plus `offset`.
    start: int
    words: dict[str, int]
    repeated: dict[str, int]
    pairs: dict[str, int]
    title: dict[str, int]
    stack: Stack
    threshold: float  # a topic at or above this probability is a label
    # The same weights for classify/wordweights.c, which reads them without a Python object per
    # word (where it was compiled; `native_weights`); None: `word_logits` reads them in Python.
    compiled: WordWeights | None = None

    def probabilities(self, folded: str, title_end: int, pairs: set[str], signals: set[str],
                      labels_only: bool = False) -> dict[str, float]:
        """Each topic's probability; with `labels_only`, the labels' only: those at or above the
        threshold, and those the rules found in the headline whatever the words say (the score
        shows the doubt: cross-validated on the holdout this costs nothing, and short items,
        whose words say little, keep what their headline says), never one the rules denied.
        `folded` and `title_end` are Prepared's, `pairs` the keys of `self.pairs` found in
        `folded` (by the classifier's automaton); `signals` what the rules said
        (topics.score_topics: "slug", "slug:title", "slug:many", "slug:veto")."""
        z = self.word_logits(folded, title_end, pairs)
        st = self.stack
        low = self.logit_threshold if labels_only else -math.inf
        out = {}
        any_veto = labels_only and any(s.endswith(":veto") for s in signals)
        if len(z) != len(self.slugs):
            raise ValueError("one logit per topic")
        for i, slug in enumerate(self.slugs):  # (compiled, zip is a call to a Python type)
            logit = z[i]
            if any_veto and f"{slug}:veto" in signals:
                continue  # the rules' veto is final
            w = max(-LOGIT_CAP, min(LOGIT_CAP, logit))
            v = st.bias + st.words * w
            headline = False
            if slug in signals:
                v += st.rule + st.rule_words * w
                headline = f"{slug}:title" in signals
                if headline:
                    v += st.title
                if f"{slug}:many" in signals:
                    v += st.many
            if v >= low or headline:
                out[slug] = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, v))))
        return out

    def word_logits(self, folded: str, title_end: int, pairs: set[str]) -> list[float]:
        """Stage 1: each topic's logit from the words (and those said again), pairs and title
        words present, read as `features` lists them (each once, however often it occurs)
        without building them."""
        if self.compiled is not None:
            return self.compiled.logits(folded, title_end, pairs)
        total = sum(self._weighed_words(folded).values(), self.start)
        total = sum(self._weighed_title(folded, title_end).values(), total)
        for key in pairs:
            total += self.pairs[key]
        return unpack(total, len(self.slugs))

    def _weighed_words(self, folded: str) -> dict[str, int]:
        """The weighed words of the item (w: and r: of `features`): each word's packed weight,
        plus what it weighs said again when it is."""
        weighed: dict[str, int] = {}  # (a lookup a word; the dict and set hold weighed ones)
        again: set[str] = set()
        for word in folded.split():
            packed = self.words.get(word)
            if packed is None:
                continue
            if word not in weighed:
                weighed[word] = packed
            elif word not in again and (more := self.repeated.get(word)) is not None:
                again.add(word)
                weighed[word] += more
        return weighed

    def _weighed_title(self, folded: str, title_end: int) -> dict[str, int]:
        """The weighed words of the title (t: of `features`), each once."""
        return {w: self.title[w] for w in folded[: title_end + 1].split() if w in self.title}

    @property
    def logit_threshold(self) -> float:
        return math.log(self.threshold / (1.0 - self.threshold))

    def top_words(self, folded: str, title_end: int, pairs: set[str], slug: str, n: int = 3
                  ) -> list[str]:
        """The words and pairs present that raise `slug` most (`pairs` as for `probabilities`):
        evidence for a topic the model added on its own."""
        index, base = self.slugs.index(slug), offset(len(self.slugs))
        pairs_weighed = {key: self.pairs[key] for key in pairs}
        found = [(weight, key)
                 for table in (self._weighed_words(folded), pairs_weighed,
                               self._weighed_title(folded, title_end))
                 for key, packed in table.items()
                 if (weight := unpack_one(packed + base, index)) > 0]
        return list(dict.fromkeys(k for _, k in sorted(found, reverse=True)))[:n]


class TopicModelError(ValueError):
    """The model file does not match the topics of data/catalog.json."""


def load_topic_model(path: Path = MODEL_FILE) -> TopicModel | None:
    """The exported model, or None when there is none (the rules alone then decide). The file's
    "c" (the words' regularisation) is for the bench's cross-validation, not read here."""
    if not path.exists():
        return None
    data = json.loads(gzip.decompress(path.read_bytes()))
    slugs = tuple(data["slugs"])
    if set(slugs) != set(catalog_topics()):
        raise TopicModelError(f"{path.name}: topics {sorted(slugs)} differ from the catalog's")
    bias = tuple(map(float, data["bias"]))
    # A topic's logit must stay within its field whatever an item holds (see `pack`).
    bound = [abs(b) for b in bias]
    tables: dict[str, dict[str, int]] = {"w": {}, "r": {}, "b": {}, "t": {}}
    for feat, listed in data["weights"].items():
        kind, _, text = feat.partition(":")  # "w:word", "r:word", "b:first second", "t:word"
        weights = tuple((int(i), float(w)) for i, w in listed)
        tables[kind][text] = pack(weights)
        for i, w in weights:
            bound[i] += abs(w)
    if max(bound) >= _HALF / UNIT:
        raise TopicModelError(f"{path.name}: weights too large for their packed fields")
    start = pack(tuple(enumerate(bias))) + offset(len(slugs))
    stack = Stack(*(float(data["stack"][name]) for name in ("bias", *STACK_INPUTS)))
    words = {w: tables["w"].get(w, 0) for w in tables["w"].keys() | tables["r"].keys()}
    return TopicModel(slugs, start, words, tables["r"], tables["b"], tables["t"], stack,
                      float(data["threshold"]),
                      native_weights(start, (words, tables["r"], tables["t"], tables["b"]),
                                     len(slugs)))


def native_weights(start: int, tables: tuple[dict[str, int], ...], n: int
                   ) -> WordWeights | None:
    """The model's words, body words said again, title words and pairs (packed, with the packed
    biases plus `offset` as `start`) for classify/wordweights.c: None where it was not compiled
    with the rest (classify/native.py), and then `TopicModel.word_logits` reads them in Python."""
    if native.MODE != "compiled":
        return None
    try:
        from classify._wordweights import WordWeights
    except ImportError:
        return None
    base = offset(n)
    return WordWeights(UNIT, units(start, n),
                       tuple({key: units(packed + base, n) for key, packed in table.items()}
                             for table in tables))


@lru_cache(maxsize=1)
def get_topic_model() -> TopicModel | None:
    return load_topic_model()
