"""How sure the classifier is of each label: the one place that reads `Classification.scores`.

A label the classifier gave no score (rules that are certain, or a classifier without scores)
counts as fully confident, 1.0, so scores only ever hold labels back, never invent them.
"""

from __future__ import annotations

from classify.classifier import Classification

FULL = 1.0


def label_score(classification: Classification, label: str) -> float:
    """The confidence of one label (a province code or a topic slug), clamped to 0..1."""
    return min(max(float(classification.scores.get(label, FULL)), 0.0), FULL)


def label_scores(classification: Classification) -> dict[str, float]:
    """Every label of the classification with its confidence: provinces first, then topics."""
    return {label: label_score(classification, label)
            for label in dict.fromkeys([*classification.provinces, *classification.topics])}
