"""Classify an item by current province and topic, with evidence for every label.

One Aho-Corasick automaton holds every gazetteer name, blocked phrase and topic phrase (and the
passing phrases, as a quick test for topics, and the word pairs the topic model weighs); one
pass over the folded text finds them all.
Places are then read in context (classify/places.py) and topic phrases added up
(classify/topics.py).

Compiled with mypyc where a compiler is at hand (classify/native.py): the scan loop runs for
every automaton hit, and compiled it calls places and topics without the interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

import ahocorasick_rs

from catalog import topic_name
from classify.evidence import Evidence, EvidenceKind
from classify.gazetteer import Gazetteer, get_gazetteer
from classify.places import PlaceReader, PlaceRules, get_place_rules
from classify.textmap import Prepared, prepare
from classify.topic_model import TopicModel, get_topic_model
from classify.topics import TopicRules, get_topic_rules, score_topics

# What an automaton key is (a bitmask).
PLACE: Final = 1
TOPIC: Final = 2
SPORTS: Final = 4
ORGANISATION: Final = 8
PAIR: Final = 32  # a word pair the topic model weighs
Span = tuple[int, int, str]  # start, end in Prepared.folded, key


@dataclass(init=False)
class Classification:
    provinces: list[str] = field(default_factory=list)  # current codes, most relevant first
    topics: list[str] = field(default_factory=list)  # slugs
    evidence: list[Evidence] = field(default_factory=list)  # one per label hit
    scores: dict[str, float] = field(
        default_factory=dict
    )  # label (code or slug) -> confidence 0..1

    # Written out (dataclass init=False): compiled, the generated __init__ runs as Python.
    def __init__(self, provinces: list[str] | None = None, topics: list[str] | None = None,
                 evidence: list[Evidence] | None = None,
                 scores: dict[str, float] | None = None) -> None:
        self.provinces = [] if provinces is None else provinces
        self.topics = [] if topics is None else topics
        self.evidence = [] if evidence is None else evidence
        self.scores = {} if scores is None else scores


class Classifier:
    def __init__(
        self,
        gazetteer: Gazetteer | None = None,
        place_rules: PlaceRules | None = None,
        topic_rules: TopicRules | None = None,
        learned: bool = True,
        topic_model: TopicModel | None = None,
    ) -> None:
        """`learned=False` leaves topics to the rules alone (scripts/topic_holdout.py and the
        rules' tests need that); `topic_model` replaces data/topic_model.json.gz (the bench
        scores dev items with models that were not trained on them)."""
        if topic_model is not None and not learned:
            raise ValueError("a topic model was given to a classifier of rules alone")
        self.gazetteer = gazetteer or get_gazetteer()
        self.topic_rules = topic_rules or get_topic_rules()
        self.topic_model: TopicModel | None = None
        if learned:
            self.topic_model = topic_model if topic_model is not None else get_topic_model()
        self.places = PlaceReader(self.gazetteer, place_rules or get_place_rules())
        # Each key is padded with spaces, as the folded text is, so matches fall on word bounds.
        # A match names its pattern by index, and the patterns come in runs of one kind each:
        # topic phrases, place names, the model's word pairs, passing phrases, then the keys
        # of several kinds (`_mixed`: a bitmask of PLACE, TOPIC, SPORTS, ORGANISATION and
        # PAIR), so most matches are told apart by comparing their index, not by reading a
        # table of 13,000 entries at random. (ahocorasick_rs, not pyahocorasick: its automaton
        # keeps each state's matches, where pyahocorasick walks the failure links at every
        # character and yields one Python tuple per match: the classifier ran about 8 % faster.)
        rules = self.places.rules
        place_keys = set(self.gazetteer.places) | self.gazetteer.blocked
        topic_keys = {k for k, refs in self.topic_rules.phrases.items()
                      if any(r.role != "name" for r in refs)}
        pairs = frozenset(self.topic_model.pairs) if self.topic_model else frozenset()
        keys = place_keys | topic_keys | rules.sports | rules.organisation_keys | pairs
        kinds = {key: (PLACE if key in place_keys else 0) | (TOPIC if key in topic_keys else 0)
                 | (SPORTS if key in rules.sports else 0)
                 | (ORGANISATION if key in rules.organisation_keys else 0)
                 | (PAIR if key in pairs else 0) for key in keys}
        runs = [sorted(k for k in keys if kinds[k] == kind) for kind in (TOPIC, PLACE, PAIR)]
        mixed = sorted(k for k in keys if kinds[k] not in (TOPIC, PLACE, PAIR))
        passing = sorted(self.topic_rules.passing_keys)
        self._places_from = len(runs[0])
        self._pairs_from = self._places_from + len(runs[1])
        self._passing_from = self._pairs_from + len(runs[2])
        self._mixed_from = self._passing_from + len(passing)
        self._keys: list[str] = [*runs[0], *runs[1], *runs[2], *passing, *mixed]
        self._mixed: list[int] = [kinds[k] for k in mixed]
        # Passing phrases ("nhân dịp") unpadded, anywhere: where none is found, topics need not
        # search the text for them (TopicRules.passing_keys).
        patterns = [f" {key} " for key in self._keys]
        patterns[self._passing_from : self._mixed_from] = passing
        self._automaton = ahocorasick_rs.AhoCorasick(
            patterns, implementation=ahocorasick_rs.Implementation.ContiguousNFA)

    def classify(
        self, title: str, summary: str = "", feed_province: str | None = None
    ) -> Classification:
        prep = prepare(title, summary)
        place_hits, topic_hits, sports, organisations, passing, pairs = self._scan(prep)
        provinces, place_evidence, scores = self.places.read(
            prep, place_hits, feed_province, sports, organisations > 0)
        if provinces == [feed_province] and not any(e.text for e in place_evidence) \
                and self.topic_rules.abroad(prep):
            # "Thành phố Ấn Độ tổ chức lễ hội…" on a provincial feed: news from abroad, not home.
            provinces, place_evidence, scores = [], [], {}
        topics, topic_evidence, signals = score_topics(prep, topic_hits, self.topic_rules,
                                                       passing)
        if self.topic_model is None:
            scores.update((slug, 1.0) for slug in topics)
        else:
            topics, topic_evidence = self._weigh_topics(self.topic_model, prep, pairs, signals,
                                                        topic_evidence, scores)
        if topics and not provinces and self.topic_rules.abroad(prep):
            # Foreign news: only the topics that happen abroad too (data/topic_rules.toml).
            keep = self.topic_rules.anywhere
            topics = [t for t in topics if t in keep]
            topic_evidence = [e for e in topic_evidence if e.label in keep]
            scores = {k: v for k, v in scores.items() if k in provinces or k in keep}
        return Classification(provinces, topics, place_evidence + topic_evidence, scores)

    def rule_signals(self, title: str, summary: str = "") -> tuple[Prepared, list[str], set[str]]:
        """What the topic rules alone say: the prepared text, the topics, the model's signals
        (scripts/topic_holdout.py records these for the topic model's stack)."""
        prep = prepare(title, summary)
        topics, _, signals = score_topics(prep, self._scan(prep)[1], self.topic_rules)
        return prep, topics, signals

    def _scan(self, prep: Prepared) -> tuple[list[Span], list[Span], int, int, bool, set[str]]:
        """One automaton pass: place hits, topic hits, how many sports and organisation words,
        whether a passing phrase may be in the text, the topic model's word pairs found."""
        place_hits: list[Span] = []
        topic_hits: list[Span] = []
        pairs: set[str] = set()
        sports = organisations = 0
        passing = False
        keys, mixed = self._keys, self._mixed
        places_from, pairs_from, passing_from, mixed_from = \
            self._places_from, self._pairs_from, self._passing_from, self._mixed_from
        # Every match, overlapping ones included: (pattern, start, end) in characters. A padded
        # key's own span is a character in from each end.
        for index, start, end in self._automaton.find_matches_as_indexes(prep.folded, True):
            # Most hits are a topic phrase, a place name or a word pair and nothing else.
            if index < places_from:
                topic_hits.append((start + 1, end - 1, keys[index]))
            elif index < pairs_from:
                place_hits.append((start + 1, end - 1, keys[index]))
            elif index < passing_from:
                pairs.add(keys[index])
            elif index < mixed_from:
                passing = True
            else:
                key, kinds = keys[index], mixed[index - mixed_from]
                span = (start + 1, end - 1, key)
                if kinds & PLACE:
                    place_hits.append(span)
                if kinds & TOPIC:
                    topic_hits.append(span)
                if kinds & SPORTS and self.places.sports_cue(prep, span[0], span[1]):
                    sports += 1
                if kinds & ORGANISATION:
                    organisations += 1
                if kinds & PAIR:
                    pairs.add(key)
        return place_hits, topic_hits, sports, organisations, passing, pairs

    @staticmethod
    def _weigh_topics(model: TopicModel, prep: Prepared, pairs: set[str], signals: set[str],
                      rule_evidence: list[Evidence], scores: dict[str, float]
                      ) -> tuple[list[str], list[Evidence]]:
        """The model's verdict on every topic: it keeps or drops what the rules found (not in the
        headline) and adds what they missed, never what they denied (TopicModel.probabilities);
        each label's score is the model's probability."""
        by_rule = {e.label: e for e in rule_evidence}
        topics, evidence = [], []
        for slug, p in model.probabilities(prep.folded, prep.title_end, pairs, signals,
                                           labels_only=True).items():
            topics.append(slug)
            scores[slug] = round(p, 3)
            if slug in by_rule:
                evidence.append(by_rule[slug])
            else:
                top = model.top_words(prep.folded, prep.title_end, pairs, slug)
                words = ", ".join(f'"{w}"' for w in top)
                evidence.append(Evidence(EvidenceKind.TOPIC, slug, "",
                                         f"model ({words}) → {slug} ({topic_name(slug)})"))
        return topics, evidence


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    return Classifier()
