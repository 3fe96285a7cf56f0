"""classify.wordgate: the quick test never hides a match of the pattern it stands for."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classify.places import get_place_rules
from classify.topics import get_topic_rules
from classify.wordgate import BoundedWords, WordGate, last_match, matches

Gated = tuple[re.Pattern[str], WordGate]


def opens(gate: WordGate, text: str) -> bool:
    """Whether the gate lets the pattern look: where one of its words starts, or everywhere."""
    return gate.starts(text) != []


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
    assert opens(gate, text)


@pytest.mark.parametrize("text", ["Ủy ban MTTQ tỉnh ", "người dân ở ", ""])
def test_text_without_the_words_is_stopped(gated: Gated, text: str) -> None:
    pattern, gate = gated
    assert pattern.search(text) is None
    assert gate.starts(text) == []


def test_a_gate_without_words_lets_everything_through() -> None:
    assert WordGate([]).starts("anything") is None


@pytest.mark.parametrize("text", [
    "Công ty TNHH Xăng dầu ", "cong ty ", "CLB Công an ", "Ủy ban MTTQ tỉnh ", "",
])
def test_the_organisation_gate_opens_where_its_pattern_matches(text: str) -> None:
    rules = get_place_rules()
    gate = WordGate(rules.organisation_gate_words)
    assert opens(gate, text) or rules.organisation.search(text) is None


def finditer_last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    return matches[-1] if matches else None


def same(a: re.Match[str] | None, b: re.Match[str] | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.span() == b.span() and a.lastgroup == b.lastgroup


_CLAUSES = ["theo Báo Lào Cai", "đài truyền hình Báo điện tử ", "Nhà máy Thủy điện Sơn La và ",
            "trang thong tin dien tu bao ", "baobao bao", "báo Báo BÁO", "tap chı ", "", "bao",
            "Công ty TNHH Xăng dầu ", "cong ty Cong Ty ", "CLB Công an "]


@pytest.mark.parametrize("text", _CLAUSES)
def test_last_match_at_the_gates_starts_is_finditers_last(text: str) -> None:
    rules = get_place_rules()
    for pattern, words in ((rules.named_after, rules.named_after_words),
                           (rules.organisation, rules.organisation_gate_words)):
        starts = WordGate(words).starts(text)
        if starts is not None:  # (None: text the test is not exact for, the pattern searches)
            assert same(last_match(pattern, text, starts), finditer_last(pattern, text)), text
    assert WordGate(rules.named_after_words).starts("tap chı ") is None  # a dotless i


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["báo", "Báo", "bao", "điện tử", "dien tu", "đài", "truyền hình",
                                 "Công ty", "cong", "ty", "nhà máy", "thủy điện", "x", "-", ",",
                                 "Lào", "Cai"]), max_size=10),
       st.lists(st.sampled_from([" ", "", "  ", "."]), min_size=10, max_size=10))
def test_random_clauses_last_match_is_finditers_last(words: list[str], gaps: list[str]) -> None:
    text = "".join(g + w for g, w in zip(gaps, words, strict=False))
    rules = get_place_rules()
    for pattern, gate_words in ((rules.named_after, rules.named_after_words),
                                (rules.organisation, rules.organisation_gate_words)):
        starts = WordGate(gate_words).starts(text)
        assert starts is not None
        assert same(last_match(pattern, text, starts), finditer_last(pattern, text)), text


_TAILS = ["tại tỉnh ", "ở TP. ", "Tp ", "thành phố  ", "THÀNH PHỐ ", "huyện\n", "xhuyện ",
          "_huyện ", "(TX ", "TT. ", "X . ", "ở P.", "đặc khu ", "huyen ", "tinh", "ſ", "İ huyện ",
          "thị xã", "", " ", "H.", "(H. ", "quận  ", "ông Tỉnh "]


@pytest.mark.parametrize("tail", _TAILS)
def test_end_words_find_what_their_pattern_finds(tail: str) -> None:
    rules = get_place_rules()
    for words in (rules.type_full, rules.type_abbrev, rules.type_folded):
        m = words.pattern.search(tail)
        assert words.find(tail) == (None if m is None else
                                    (m.start(), next(g for g in m.groups() if g)))


@pytest.mark.parametrize("tail", [*_TAILS, "TP.", "xa ", "khu ", "Đặc Khu ", "tỉnh ", "TỈNH  ",
                                  "bản ", "ĐẶC KHU"])
def test_the_joint_end_test_opens_wherever_a_pattern_matches(tail: str) -> None:
    rules = get_place_rules()
    lists = (rules.type_full, rules.type_abbrev, rules.type_folded)
    full, abbrev, folded = (words.endings for words in lists)
    assert full and abbrev and folded
    if any(words.pattern.search(tail) for words in lists):
        assert (full | abbrev | folded).may_end(tail)
    if any(words.pattern.search(tail) for words in lists[:2]):
        assert (full | abbrev).may_end(tail)
    assert not (full | abbrev | folded).may_end("người dân ở ")
    assert not (full | abbrev).may_end("trong ")  # (folded "phuong" ends so)


@pytest.mark.parametrize("text", ["nhân dịp lễ", "xnhân dịp", "nhân dịpx", "(nhân dịp)",
                                  "phục vụ_", "_phục vụ", "đáp ứng yêu cầu", "", "nhân"])
def test_bounded_words_find_what_their_pattern_finds(text: str) -> None:
    words = ["nhân dịp", "phục vụ", "đáp ứng yêu cầu", "nhân dịp lễ"]
    pattern = re.compile(rf"(?<!\w)(?:{'|'.join(map(re.escape, words))})(?!\w)")
    assert BoundedWords(words).search(text) == (pattern.search(text) is not None)
    assert BoundedWords([*words, ""]).search(text) == (re.compile(
        rf"(?<!\w)(?:{'|'.join(map(re.escape, [*words, '']))})(?!\w)").search(text) is not None)
    assert not BoundedWords([]).search(text)


_PHRASES = ["nhân dịp", "nhân", "dịp lễ", "Việt Nam", "Nam", "x", "tỉnh", "HĐND tỉnh"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_PHRASES, "Lào", "Cai", "-", ",", "(", "_"]), max_size=10),
       st.lists(st.sampled_from([" ", "", "  ", ".", "\n"]), min_size=10, max_size=10))
def test_matches_at_the_words_starts_are_finditers(words: list[str], gaps: list[str]) -> None:
    """`matches` at `BoundedWords.starts` (a pattern that opens with its words) and at
    `WordGate.starts` (an IGNORECASE one) gives finditer's matches, overlapping words included."""
    text = "".join(g + w for g, w in zip(gaps, words, strict=False))
    alternation = "|".join(re.escape(w) for w in sorted(_PHRASES, key=len, reverse=True))
    bounded = re.compile(rf"(?<!\w)({alternation})(?:\s+\w+){{0,2}}(?!\w)")
    starts = BoundedWords(_PHRASES).starts(text)
    assert starts is not None
    assert [m.span() for m in matches(bounded, text, starts)] == \
        [m.span() for m in bounded.finditer(text)]
    assert [m.span() for m in matches(bounded, text, None)] == \
        [m.span() for m in bounded.finditer(text)]  # no starts: tried everywhere
    any_case = re.compile(rf"(?<!\w)({alternation})(?!\w)", re.IGNORECASE)
    gate_starts = WordGate(_PHRASES).starts(text)
    assert gate_starts is not None
    assert [m.span() for m in matches(any_case, text, gate_starts)] == \
        [m.span() for m in any_case.finditer(text)]


def test_bounded_words_starts() -> None:
    assert BoundedWords(["nhân dịp", "dịp"]).starts("xnhân dịp dịp") == [1, 6, 10]
    assert BoundedWords([]).starts("nhân dịp") == []
    assert BoundedWords(["", "dịp"]).starts("dịp") is None  # the empty word: look everywhere


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="nhân dịp lễ Vu Lan,.;()\nxtrongbốicảnh", max_size=90),
       st.integers(0, 90))
def test_in_passing_is_the_passing_patterns_search(text: str, start: int) -> None:
    """Trying the passing pattern only where a passing phrase starts finds what searching the
    whole window finds."""
    from classify.topics import _in_passing

    rules = get_topic_rules()
    assert rules.passing is not None
    window = text[max(0, start - 60) : start].lower()
    assert _in_passing(text, start, rules) == (rules.passing.search(window) is not None)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("báo Báo BAO điện tử cty, ."), max_size=40),
       st.integers(0, 40))
def test_the_starts_after_a_cut_are_the_starts_of_the_rest(text: str, cut: int) -> None:
    """PlaceReader._name_word reads the gate once over the text before a name and keeps the
    starts past the clause's cut: those of the clause itself."""
    gate = WordGate(get_place_rules().named_after_words)
    starts, rest = gate.starts(text), gate.starts(text[cut:])
    assert starts is not None and rest is not None  # (plain letters: the gate is exact)
    assert [at - cut for at in starts if at >= cut] == rest
