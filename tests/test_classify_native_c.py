"""The classifier's C readers (classify/wordweights.c, classify/texttable.c) answer exactly as
the Python they stand in for, which stays the reference: on every labelled item, on every
character they have a table for, on random text, and on bad arguments."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classify import get_classifier, native, textmap, wordgate
from classify.labelled import labelled_files, load_jsonl
from classify.textmap import _flatten, _flatten_python, _normalized, prepare
from classify.topic_model import TopicModel
from vntext import normalize

pytestmark = pytest.mark.skipif(native.MODE != "compiled",
                                reason=f"classify {native.MODE}: no C readers to compare")

# What makes the difference in folding and normalising: letters with and without marks, the
# clusters whose mark moves ("hoà", "thuỷ", not "quý"), punctuation, odd spaces, zero widths,
# a lone combining mark, "Ð", a character NFD splits, CJK.
TRICKY = ("aAoOuUqQyYeEđĐ àáảãạÀẠèéẻẽẹÈỳýỷỹỵỲÝ_1'’“”–…,.-"
          "\u00a0\u2003\u200b\u00ad\u0301\u00d0\u00f0\u01c4\ufb01中")
texts = st.text(alphabet=st.sampled_from(TRICKY), max_size=40) | st.text(max_size=40)


def labelled_texts() -> list[tuple[str, str]]:
    return [(i.get("title") or "", i.get("summary") or "")
            for path in labelled_files() for i in load_jsonl(path)]


def python_model() -> tuple[TopicModel, TopicModel]:
    model = get_classifier().topic_model
    assert model is not None and model.compiled is not None
    return model, dataclasses.replace(model, compiled=None)


def test_the_c_readers_are_in_use() -> None:
    model, python = python_model()
    assert python.compiled is None
    assert textmap._FOLD_IN_C is not None and textmap._PLAIN_IN_C is not None
    assert textmap._FIND_IN_C is not None


def test_folding_every_character_of_the_table() -> None:
    for code in range(len(textmap._FOLD_TABLE) + 16):
        for text in (chr(code), f"a{chr(code)}b", f"Hoà {chr(code)}' Đ"):
            assert _flatten(text) == _flatten_python(text), hex(code)


def test_what_the_plain_table_vouches_for_stays_nfc_beside_anything() -> None:
    """Every two characters the table vouches for are NFC together, and after or before any
    other character of the blocks NFC may join (a mark, a Hangul vowel, an Indic vowel sign),
    the text is not vouched for: Python normalises it."""
    table = textmap._plain_table()
    vouched = [chr(c) for c in range(len(table)) if not table[c] & 1]
    assert "a" in vouched and "ệ" in vouched and "\u0301" not in vouched
    for first in vouched:
        for second in vouched:
            assert unicodedata.is_normalized("NFC", first + second), (first, second)
    for text in ("e\u0302\u0323", "\u09c7\u09be", "\u1100\u1161", "℃", "a\u200b", "Ð",
                 unicodedata.normalize("NFD", "Hòa Bình: bàn giao nhà Đại đoàn kết")):
        assert _normalized(text) == normalize(text), text


def test_normalising_every_short_text_of_the_tricky_characters() -> None:
    for size in range(4):
        for chars in itertools.product(TRICKY[:30], repeat=size):
            text = "".join(chars)
            assert _normalized(text) == normalize(text), text


def test_labelled_items_fold_normalise_and_weigh_the_same() -> None:
    clf = get_classifier()
    model, python = python_model()
    for title, summary in labelled_texts():
        for text in (title, summary, f"{title}\u2063{summary}"):
            assert _normalized(text) == normalize(text)
            assert _flatten(text) == _flatten_python(text)
        prep = prepare(title, summary)
        pairs = clf._scan(prep)[5]
        for title_end in (prep.title_end, 0, prep.title_end + 3, len(prep.folded) + 1):
            assert model.word_logits(prep.folded, title_end, pairs) \
                == python.word_logits(prep.folded, title_end, pairs)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_random_text_folds_and_normalises_the_same(text: str) -> None:
    assert _normalized(text) == normalize(text)
    assert _flatten(text) == _flatten_python(text)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_words_weigh_the_same(data: st.DataObject) -> None:
    model, python = python_model()
    vocabulary = sorted({*model.words, *model.title, "x", "é", "ab"})
    words = data.draw(st.lists(st.sampled_from(vocabulary), max_size=15))
    gaps = data.draw(st.lists(st.sampled_from([" ", "  ", "\t", "\u2003", " , "]),
                              min_size=len(words), max_size=len(words)))
    folded = "".join(gap + word for gap, word in zip(gaps, words, strict=True)) + " "
    title_end = data.draw(st.integers(-3, len(folded) + 2))
    pairs = set(data.draw(st.lists(st.sampled_from(sorted(model.pairs)), max_size=3)))
    assert model.word_logits(folded, title_end, pairs) \
        == python.word_logits(folded, title_end, pairs)


SEARCHES = {"MARKED": textmap.MARKED, "not plain": wordgate._NOT_PLAIN}


@pytest.mark.parametrize("name", SEARCHES)
def test_a_character_search_answers_as_its_pattern_at_every_code_point(name: str) -> None:
    search = SEARCHES[name]
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert search.search(f"ab{char}", 2) == (search.pattern.search(char) is not None), \
            hex(code)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SEARCHES)), texts, st.integers(-5, 50), st.integers(-5, 50))
def test_a_character_search_takes_bounds_as_re_does(name: str, text: str, start: int,
                                                    end: int) -> None:
    search = SEARCHES[name]
    assert search.search(text, start, end) == (search.pattern.search(text, start, end)
                                               is not None)
    assert search.search(text, start) == (search.pattern.search(text, start) is not None)


def test_bad_arguments_are_refused_as_python_would() -> None:
    from classify._texttable import find, fold, plain
    from classify._wordweights import WordWeights

    model, python = python_model()
    assert model.compiled is not None
    with pytest.raises(KeyError):  # a pair the model does not have, as a dict would say
        model.compiled.logits(" a b ", 0, {"no such pair"})
    with pytest.raises(KeyError):
        python.word_logits(" a b ", 0, {"no such pair"})
    with pytest.raises(TypeError):
        model.compiled.logits(b"bytes", 0, set())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fold("text", "not bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plain(None, b"")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        find("text", b"", 1, 0, 4)  # type: ignore[arg-type]
    with pytest.raises(OverflowError):  # as re says of a bound beyond Py_ssize_t
        find("text", b"", False, 0, 2**70)
    with pytest.raises(ValueError, match="one weight per topic"):
        WordWeights(10_000, [0, 0], ({"a": [1]}, {}, {}, {}))
    with pytest.raises(ValueError, match="four tables"):
        WordWeights(10_000, [0], ({}, {}))
    with pytest.raises(TypeError, match="strings"):
        WordWeights(10_000, [0], ({1: [1]}, {}, {}, {}))  # type: ignore[dict-item]

    class Sneaky:  # a row of weights that grows the table while it is read
        def __init__(self, table: dict[str, object]) -> None:
            self.table = table

        def __len__(self) -> int:
            return 1

        def __iter__(self) -> object:
            self.table["zz"] = [0]
            return iter([1])

    table: dict[str, object] = {}
    table["a"] = Sneaky(table)
    with pytest.raises(RuntimeError, match="changed"):
        WordWeights(10_000, [0], (table, {}, {}, {}))  # type: ignore[arg-type]
    assert fold("", b"") == "" and plain("", b"") is True
    assert fold("é", b"a") is None  # beyond the table: Python folds it
