"""The outbox row's payload (storage.models.Delivery.payload), typed.

The stored JSON keeps the shape rows have always had, so rows written before still read:
- a digest or report row starts as {"mode", "hour", "weekday"}, its schedule;
- resolving a row adds "items" (ids), "checked": true once the chat's other rows were checked,
  and "low" (ids matched only weakly), or "parts" for a report;
- an instant row starts as {"items": [...]}; a rendered message is {"parts": [...]}, each part
  {"text": html} or {"photo": base64 PNG, "caption": html}.
A key absent from the JSON is None here (False for "checked"), and left out again by `to_json`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Part:
    """One message of a rendered row: HTML text, or a PNG chart with its HTML caption."""

    text: str  # the message, or the photo's caption
    photo: bytes | None = None  # PNG

    def to_json(self) -> dict[str, str]:
        if self.photo is None:
            return {"text": self.text}
        return {"photo": base64.b64encode(self.photo).decode(), "caption": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> Part:
        if "photo" in data:
            return cls(data.get("caption", ""), base64.b64decode(data["photo"]))
        return cls(data["text"])


@dataclass
class OutboxPayload:
    """What one outbox row sends, or what to resolve and render it from."""

    mode: str | None = None  # the digest's or report's schedule
    hour: int | None = None
    weekday: int | None = None
    # Tuples: the rows of chats that follow the same things share one (delivery.contents).
    items: tuple[int, ...] | None = None
    checked: bool = False  # items no longer include what the chat has or has on its way
    low: tuple[int, ...] | None = None  # of items, those matched only weakly
    parts: list[Part] | None = None  # rendered, ready to send

    @classmethod
    def of_parts(cls, texts: list[str]) -> OutboxPayload:
        """An already rendered message: one text part per HTML text."""
        return cls(parts=[Part(t) for t in texts])

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key in ("mode", "hour", "weekday"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        if self.items is not None:
            data["items"] = list(self.items)
        if self.checked:
            data["checked"] = True
        if self.low is not None:
            data["low"] = list(self.low)
        if self.parts is not None:
            data["parts"] = [p.to_json() for p in self.parts]
        return data

    def copy(self) -> OutboxPayload:
        """A payload of its own that shares the (immutable) id tuples."""
        return OutboxPayload(self.mode, self.hour, self.weekday, self.items, self.checked,
                             self.low, None if self.parts is None else list(self.parts))

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> OutboxPayload:
        data = data or {}
        items, low, parts = data.get("items"), data.get("low"), data.get("parts")
        return cls(mode=data.get("mode"), hour=data.get("hour"), weekday=data.get("weekday"),
                   items=None if items is None else tuple(items),
                   checked=bool(data.get("checked")),
                   low=None if low is None else tuple(low),
                   parts=None if parts is None else [Part.from_json(p) for p in parts])
