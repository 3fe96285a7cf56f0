"""classify.wordgate: the quick test never hides a match of the pattern it stands for."""

from __future__ import annotations

import re

import pytest

from classify.places import get_place_rules
from classify.wordgate import WordGate

Gated = tuple[re.Pattern[str], WordGate]


@pytest.fixture(scope="module")
def gated() -> Gated:
    rules = get_place_rules()
    return rules.named_after, WordGate(rules.named_after_words)


@pytest.mark.parametrize("text", [
    "theo Báo Lào Cai",  # as written
    "THEO BÁO ĐIỆN TỬ ",  # in capitals
    "trang thong tin dien tu ",  # typed without marks
    "Nhà máy Thủy điện ",  # mixed case
    "tap chı ",  # a dotless i, which re.IGNORECASE reads as "i"
])
def test_where_the_pattern_matches_the_gate_opens(gated: Gated, text: str) -> None:
    pattern, gate = gated
    assert pattern.search(text) is not None
    assert gate.may_match(text)


@pytest.mark.parametrize("text", ["Ủy ban MTTQ tỉnh ", "người dân ở ", ""])
def test_text_without_the_words_is_stopped(gated: Gated, text: str) -> None:
    pattern, gate = gated
    assert pattern.search(text) is None
    assert not gate.may_match(text)


def test_a_gate_without_words_lets_everything_through() -> None:
    assert WordGate([]).may_match("anything")
