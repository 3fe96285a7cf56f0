"""A classification as storage keeps it: each label once, with its confidence and its evidence.

The pipeline labels new items with it, and re-classification (services.classification) replaces
labels with it, so both store the same thing."""

from __future__ import annotations

from classify import Classification, EvidenceKind
from classify.confidence import label_score
from storage.labels import Label, Labels


def _label(classification: Classification, kind: EvidenceKind, value: str) -> Label:
    evidence = tuple(e.to_json() for e in classification.evidence
                     if e.kind == kind and e.label == value)
    return Label(value, label_score(classification, value), evidence)


def to_labels(classification: Classification) -> Labels:
    """The labels to store; provinces keep the classifier's order, most relevant first."""
    return Labels(
        provinces=tuple(_label(classification, EvidenceKind.PROVINCE, code)
                        for code in dict.fromkeys(classification.provinces)),
        topics=tuple(_label(classification, EvidenceKind.TOPIC, slug)
                     for slug in dict.fromkeys(classification.topics)))
