"""Classification of items by current province and topic, with evidence."""

# First: whether the hot modules load compiled or as Python is settled before any is imported.
from classify import native
from classify.classifier import Classification, Classifier, get_classifier
from classify.evidence import Evidence, EvidenceKind

__all__ = ["Classification", "Classifier", "Evidence", "EvidenceKind", "get_classifier", "native"]
