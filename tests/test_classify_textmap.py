"""classify.textmap's shortcuts answer as the patterns they stand for."""

from __future__ import annotations

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from classify.textmap import (
    _SAME_SYLLABLE,
    MARKED,
    VIETNAMESE_LETTERS,
    find_sentence_end,
    marks_form,
)

_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_NOT_WORD = re.compile(r"[\W_]+")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab .!?\n\t\u2003\u00a0x…", max_size=40), st.integers(0, 45))
def test_find_sentence_end_is_the_patterns_search(text: str, pos: int) -> None:
    found = _SENTENCE_END.search(text, pos)
    assert find_sentence_end(text, pos) == (found.span() if found else None)


def test_find_sentence_end_examples() -> None:
    assert find_sentence_end("Hà Nội. Mưa") == (6, 8)
    assert find_sentence_end("TP.HCM mưa to!") == (13, 14)  # "TP.HCM": no end; the text's end
    assert find_sentence_end("1.000 người? Có", 2) == (11, 13)
    assert find_sentence_end("không dấu chấm") is None


def test_marked_is_every_vietnamese_letter_in_either_case() -> None:
    """Spelt out in both cases, the class matches what its IGNORECASE form matched, at every
    code point."""
    ignoring_case = re.compile(f"[{VIETNAMESE_LETTERS}]", re.IGNORECASE)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert (MARKED.pattern.match(char) is None) \
            == (ignoring_case.match(char) is None), hex(code)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("aĂắ Đđ_.-1²\u2003\u00a0\x1cxTPHuế"), max_size=20))
def test_marks_form_reads_punctuation_as_the_pattern_does(text: str) -> None:
    words = _NOT_WORD.sub(" ", text.lower()).split()
    assert marks_form(text) == " ".join(_SAME_SYLLABLE.get(w, w) for w in words)
