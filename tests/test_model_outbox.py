"""The outbox payload reads and writes the JSON shapes rows have always had."""

import pytest

from model.outbox import OutboxPayload, Part

SHAPES = [
    {"parts": [{"text": "a"}, {"photo": "iVBO", "caption": "b"}]},
    {"items": [3, 1]},
    {"mode": "daily", "hour": 7, "weekday": 0},
    {"mode": "held", "hour": 7, "weekday": 0, "items": [1, 2], "checked": True, "low": [2]},
    {"mode": "weekly", "hour": 8, "weekday": 2, "parts": []},
]


@pytest.mark.parametrize("stored", SHAPES)
def test_round_trip_keeps_the_stored_shape(stored: dict[str, object]) -> None:
    assert OutboxPayload.from_json(stored).to_json() == stored


def test_an_empty_or_missing_payload_is_empty() -> None:
    assert OutboxPayload.from_json(None) == OutboxPayload() == OutboxPayload.from_json({})
    assert OutboxPayload().to_json() == {}


def test_of_parts_is_one_text_part_each() -> None:
    assert OutboxPayload.of_parts(["a", "b"]).to_json() == {"parts": [{"text": "a"}, {"text": "b"}]}


def test_parts_are_typed() -> None:
    parts = OutboxPayload.from_json(SHAPES[0]).parts
    assert parts == [Part("a"), Part("b", photo=b"\x89PN")]
