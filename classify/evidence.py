"""Why a label was given: the words that gave it and how they were read.

The classifier gives one per label hit (a province or a topic), and a phrase read for `/sub` or
search one per place, region or topic named. Stored with the labels and printed by
`bot.py classify` as the JSON object {"kind", "label", "text", "resolved"}, in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EvidenceKind(StrEnum):
    PROVINCE = "province"
    TOPIC = "topic"
    REGION = "region"  # only in a phrase: "miền Trung" → its provinces


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: EvidenceKind
    label: str  # province code, topic slug or region slug
    text: str  # the words as written; "" when no words gave it (the feed's home, the model)
    resolved: str  # how they were read, e.g. '"huyện Vũ Thư" → former Thái Bình → 33 Hưng Yên'

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "label": self.label, "text": self.text,
                "resolved": self.resolved}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], kind: EvidenceKind, label: str) -> Evidence:
        """Evidence as stored with the label `label` of kind `kind`. The label's own row says
        what it is for, so a row stored with fewer keys, or with an older kind, still reads."""
        try:
            kind = EvidenceKind(str(data.get("kind")))
        except ValueError:
            pass
        return cls(kind, str(data.get("label") or label), str(data.get("text") or ""),
                   str(data.get("resolved") or ""))
