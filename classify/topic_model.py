"""The learned part of topic classification: a linear model where the rules stop.

One logistic regression per topic over binary features of the item: its folded words and word
pairs, its title words, and what the rules said (RULE:<slug>, RULE:<slug>:title when from the
title, RULE:<slug>:many when by several phrases). Trained by
scripts/train_topics.py (scikit-learn, the `topics` extra) on the dev split only, exported to
data/topic_model.json.gz; reading it here needs the stdlib alone: a score is a sum of the
weights of the features present, through the logistic function.

The rules keep the evidence: the model confirms, vetoes or adds a topic, and gives each topic its
confidence (`Classification.scores`). A topic it adds on its own shows the words that weighed most.
Hand-written because the model is a table of weights: reading it needs no library, loads in
milliseconds and costs a few dictionary lookups per item.

Compiled with mypyc where a compiler is at hand (classify/native.py): it weighs every item.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Final

from catalog import topics as catalog_topics

MODEL_FILE: Final = Path(__file__).resolve().parents[1] / "data" / "topic_model.json.gz"
# words of an item that count (the text is capped anyway; this bounds the pairs)
MAX_WORDS: Final = 400


def features(folded: str, title_end: int, signals: set[str] | frozenset[str]) -> set[str]:
    """The binary features of an item, as training sees them. `folded` is Prepared.folded
    (title, then summary, one character further on than the text), `title_end` where the title
    ends in the text, `signals` what the rules said (topics.score_topics: "slug", "slug:title",
    "slug:many"). TopicModel.probabilities reads the same features without building them."""
    words = folded.split()[:MAX_WORDS]
    out = {f"w:{w}" for w in words}
    out.update(f"b:{a} {b}" for a, b in pairwise(words))
    out.update(f"t:{w}" for w in folded[: title_end + 1].split())
    out.update(f"RULE:{signal}" for signal in signals)
    return out


Pairs = tuple[tuple[int, float], ...]  # (topic index, weight)


@dataclass(frozen=True)
class TopicModel:
    slugs: tuple[str, ...]
    bias: tuple[float, ...]  # per topic
    # Weights by kind of feature (see `features`): words, word pairs, title words, rules fired.
    words: dict[str, Pairs]
    pairs: dict[str, Pairs]
    title: dict[str, Pairs]
    rules: dict[str, Pairs]  # by rule signal: "slug", "slug:title", "slug:many"
    pair_starts: frozenset[str]  # first words of the weighted pairs: only those are built
    threshold: float  # a topic at or above this probability is a label

    def probabilities(self, folded: str, title_end: int, signals: set[str],
                      labels_only: bool = False) -> dict[str, float]:
        """Each topic's probability (with `labels_only`, of those at or above the threshold),
        from the features `features` would list, without building them all: a sum of weights
        of the words, pairs and title words present."""
        z = list(self.bias)
        found: list[Pairs] = [self.rules[s] for s in signals if s in self.rules]
        if self.words or self.pairs or self.title:  # a model of the rules alone reads no words
            words = folded.split()[:MAX_WORDS]
            found += [self.words[w] for w in set(words) if w in self.words]
            starts = self.pair_starts
            pairs = {f"{a} {b}" for a, b in pairwise(words) if a in starts}
            found += [self.pairs[p] for p in pairs if p in self.pairs]
            found += [self.title[w] for w in set(folded[: title_end + 1].split())
                      if w in self.title]
        for weights in found:
            for index, weight in weights:
                z[index] += weight
        low = self.logit_threshold if labels_only else -math.inf
        return {slug: 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, v))))
                for slug, v in zip(self.slugs, z, strict=True) if v >= low}

    @cached_property
    def logit_threshold(self) -> float:
        return math.log(self.threshold / (1.0 - self.threshold))

    def top_words(self, folded: str, title_end: int, slug: str, n: int = 3) -> list[str]:
        """The words and pairs present that raise `slug` most: evidence for a topic the model
        added on its own."""
        index = self.slugs.index(slug)
        scored = []
        for feat in features(folded, title_end, set()):
            kind, _, text = feat.partition(":")
            table = {"w": self.words, "b": self.pairs, "t": self.title}[kind]
            scored += [(w, text) for i, w in table.get(text, ()) if i == index and w > 0]
        return list(dict.fromkeys(text for _, text in sorted(scored, reverse=True)))[:n]


class TopicModelError(ValueError):
    """The model file does not match the topics of data/catalog.json."""


def load_topic_model(path: Path = MODEL_FILE) -> TopicModel | None:
    """The exported model, or None when there is none (the rules alone then decide)."""
    if not path.exists():
        return None
    data = json.loads(gzip.decompress(path.read_bytes()))
    slugs = tuple(data["slugs"])
    if set(slugs) != set(catalog_topics()):
        raise TopicModelError(f"{path.name}: topics {sorted(slugs)} differ from the catalog's")
    tables: dict[str, dict[str, Pairs]] = {"w": {}, "b": {}, "t": {}, "RULE": {}}
    for feat, pairs in data["weights"].items():
        kind, _, text = feat.partition(":")
        tables[kind][text] = tuple((int(i), float(w)) for i, w in pairs)
    return TopicModel(slugs, tuple(data["bias"]), tables["w"], tables["b"], tables["t"],
                      tables["RULE"], frozenset(p.split()[0] for p in tables["b"]),
                      float(data["threshold"]))


@lru_cache(maxsize=1)
def get_topic_model() -> TopicModel | None:
    return load_topic_model()
