"""UTF-16 lengths and the one cut to a limit, shared by the composer and the Zalo channel."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vntext import utf16_fit, utf16_len


def test_fit_never_splits_an_astral_character() -> None:
    assert utf16_len("a😀b") == 4
    assert [utf16_fit("a😀b", units) for units in range(-1, 6)] == [0, 0, 1, 1, 2, 3, 3]


@given(st.text(), st.integers(min_value=-2, max_value=60))
def test_fit_is_the_longest_prefix_within_the_limit(text: str, units: int) -> None:
    fits = utf16_fit(text, units)
    assert utf16_len(text[:fits]) <= max(units, 0)
    assert fits == len(text) or utf16_len(text[: fits + 1]) > units
