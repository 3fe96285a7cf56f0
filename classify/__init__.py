"""Classification of items by current province and topic, with evidence."""

from classify.classifier import Classification, Classifier, get_classifier

__all__ = ["Classification", "Classifier", "get_classifier"]
