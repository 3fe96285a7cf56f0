"""Classification of items by current province and topic, with evidence."""

from classify.classifier import Classification, Classifier, get_classifier
from classify.evidence import Evidence, EvidenceKind

__all__ = ["Classification", "Classifier", "Evidence", "EvidenceKind", "get_classifier"]
