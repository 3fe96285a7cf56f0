"""vntext.normalize: the fast path for clean text gives what splitting and joining would."""

from __future__ import annotations

import random
import sys
import unicodedata

import pytest

from vntext import normalize, unify_tone_marks
from vntext.normalize import OTHER_SPACES


def test_other_spaces_are_every_whitespace_but_the_space() -> None:
    assert OTHER_SPACES == "".join(chr(c) for c in range(sys.maxunicode + 1)
                                   if chr(c).isspace() and c != 32)


def _reference(text: str) -> str:
    """normalize as it was written first: always split and join."""
    text = unicodedata.normalize("NFC", text)
    for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad":
        text = text.replace(ch, "")
    return " ".join(unify_tone_marks(text).split())


@pytest.mark.parametrize("seed", range(5))
def test_normalize_equals_split_and_join(seed: int) -> None:
    rnd = random.Random(seed)
    pieces = [" ", "  ", "a", "hoà", "Đà Nẵng", "\u200b", *OTHER_SPACES]
    for _ in range(2000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randrange(8)))
        assert normalize(text) == _reference(text), repr(text)


def test_the_icelandic_eth_reads_as_the_vietnamese_d_with_stroke() -> None:
    # "Ð" (U+00D0) looks like "Đ" (U+0110) and old encodings put it there: one letter to a reader.
    assert normalize("huyện Vân \u00d0ồn, \u00f0ường") == "huyện Vân Đồn, đường"
