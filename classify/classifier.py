"""Placeholder until the gazetteer and topic rules land (issue 3): labels nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass
class Classification:
    provinces: list[str] = field(default_factory=list)  # current codes, most relevant first
    topics: list[str] = field(default_factory=list)  # slugs
    # One dict per label hit: {"kind": "province"|"topic", "label": code or slug,
    #   "text": matched text, "resolved": human-readable chain,
    #   e.g. '"huyện Vũ Thư" → former Thái Bình → 33 Hưng Yên'}
    evidence: list[dict[str, Any]] = field(default_factory=list)


class Classifier:
    def classify(self, title: str, summary: str = "", feed_province: str | None = None) -> Classification:
        return Classification()


@lru_cache(maxsize=1)
def get_classifier() -> Classifier:
    return Classifier()
