"""A quick test that lets a slow case-insensitive pattern of alternated words run only where it
can match.

Python's `re` tries every alternative of an IGNORECASE alternation at every position, which made
`places.PlaceRules.named_after` the costliest step of reading a place name (about 7 µs a name).
Most text before a name holds none of its words: one Aho-Corasick pass over the lowercased text
says so for a tenth of the cost, and the pattern runs only when it may match, so the answer is
the pattern's own. Where it may, the same pass says where its words start, and the pattern is
tried there alone (`WordGate.starts`, `BoundedWords.starts`, `matches`), not at every
character.

The test is exact only where `str.lower` folds letters as `re.IGNORECASE` does, one for one:
ASCII and the Vietnamese letters (not "İ", "ı", "ſ", Greek…). Text or words with any other
letter always take the pattern.

Compiled with mypyc where a compiler is at hand (classify/native.py): the gates run for every
name read, and compiled calls cost less.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import ahocorasick_rs

from classify.textmap import VIETNAMESE_LETTERS, CharSearch

# ASCII, Vietnamese letters, and punctuation without case (Latin-1's but "µ", general punctuation).
_PLAIN: Final = f"\x00-\x7f{VIETNAMESE_LETTERS}" \
    f"{VIETNAMESE_LETTERS.upper()}\u00a0-\u00b4\u00b6-\u00bf\u2000-\u206f"
_NOT_PLAIN: Final = CharSearch(f"[^{_PLAIN}]", 0x2070)


class WordGate:
    """`starts(text)` is empty only when the IGNORECASE pattern of `words` cannot match, and
    says where it can."""

    def __init__(self, words: Iterable[str]) -> None:
        lowered = {w.lower() for w in words}
        self._automaton: ahocorasick_rs.AhoCorasick | None = None
        if lowered and not any(not w or _NOT_PLAIN.search(w) for w in lowered):
            self._automaton = ahocorasick_rs.AhoCorasick(sorted(lowered))

    def starts(self, text: str) -> list[int] | None:
        """Where a word starts in `text`, each place once, in order: the only places where an
        alternation of exactly these words can match (`last_match`); none, and the pattern
        cannot match at all. None where the test is not exact (no words, or letters whose case
        str.lower folds otherwise): the pattern must look everywhere."""
        if self._automaton is None or _NOT_PLAIN.search(text):
            return None
        return _starts(self._automaton.find_matches_as_indexes(text.lower(), True))


def _starts(found: list[tuple[int, int, int]]) -> list[int]:
    """Where the automaton's matches (pattern, start, end) start, each place once, in order."""
    if len(found) < 2:  # (most texts hold none of the words, or one)
        return [found[0][1]] if found else []
    return sorted({start for _, start, _ in found})


def matches(pattern: re.Pattern[str], text: str, starts: list[int] | None
            ) -> list[re.Match[str]]:
    """The matches `pattern.finditer(text)` gives, tried only at `starts` (`starts` of a gate of
    the pattern's own words, where alone it can match), as finditer goes: after a match, from
    its end. None, where the gate cannot tell: finditer's own, tried everywhere."""
    if starts is None:
        return list(pattern.finditer(text))
    found: list[re.Match[str]] = []
    end = 0
    for at in starts:
        if at >= end and (m := pattern.match(text, at)) is not None:
            found.append(m)
            end = m.end()
    return found


def last_match(pattern: re.Pattern[str], text: str, starts: list[int] | None
               ) -> re.Match[str] | None:
    """The last match `pattern.finditer(text)` gives, tried only at `starts` (`matches`)."""
    found = matches(pattern, text, starts)
    return found[-1] if found else None


def _is_word(ch: str) -> bool:
    """`re`'s `\\w` for one character of a str pattern."""
    return ch.isalnum() or ch == "_"


class BoundedWords:
    """`search(text)` says what `re.compile(rf"(?<!\\w)(?:{alternation})(?!\\w)").search(text)`
    would (any of `words` on word bounds, case and marks as written), without the regex, whose
    alternation Python's `re` tries at every position: one Aho-Corasick pass finds every
    occurrence, overlapping ones included, and each is checked for its bounds. An empty word
    matches wherever the regex's empty alternative would, so such a list keeps the regex."""

    def __init__(self, words: Iterable[str]) -> None:
        words = set(words)
        self._pattern: re.Pattern[str] | None = None
        self._automaton: ahocorasick_rs.AhoCorasick | None = None
        if "" in words:
            alternation = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            self._pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        elif words:
            self._automaton = ahocorasick_rs.AhoCorasick(sorted(words))

    def starts(self, text: str) -> list[int] | None:
        """Where one of the words starts in `text`, bounds aside, each place once, in order: the
        only places where a pattern that begins with an alternation of exactly these words can
        match. None for a list with the empty word: such a pattern must look everywhere."""
        if self._automaton is None:
            return None if self._pattern is not None else []
        return _starts(self._automaton.find_matches_as_indexes(text, True))

    def search(self, text: str) -> bool:
        if self._pattern is not None:
            return self._pattern.search(text) is not None
        if self._automaton is None:
            return False
        size = len(text)
        # Every occurrence, overlapping ones included: (word, start, end) in characters.
        for _, start, end in self._automaton.find_matches_as_indexes(text, True):
            if (start == 0 or not _is_word(text[start - 1])) \
                    and (end == size or not _is_word(text[end])):
                return True
        return False


class EndWords:
    """`find(text)` says what `pattern.search(text)` would, for a pattern of the shape
    `(?:^|(?<=\\W))(?:<forms>)\\s*$` (a word ending the text but for spaces, on a word bound):
    (where the match starts, its first group), or None. Python's `re` tries every alternative at
    every position; here only the text's ends of the forms' lengths are looked up, the longest
    first (the leftmost match). `forms` maps each form, as the pattern would match it (lowercase
    with `ignore_case`), to the length of its group ("TP." → 2: "TP"). With `ignore_case`, the
    lookup is exact only for plain letters (see WordGate): other text takes the pattern."""

    def __init__(self, pattern: re.Pattern[str], forms: dict[str, int], ignore_case: bool
                 ) -> None:
        self.pattern = pattern
        self._forms = forms
        self._lengths = sorted({len(f) for f in forms}, reverse=True)
        self._ignore_case = ignore_case
        self._exact = all(f and f == f.rstrip() for f in forms) \
            and not (ignore_case and any(_NOT_PLAIN.search(f) for f in forms))
        # A quick test first: the text's last three characters (two for a form of two) must end
        # some form; most text before a name ends no type word.
        self._quick = all(len(f) >= 2 for f in forms)
        self._ends3 = frozenset(f[-3:] for f in forms if len(f) >= 3)
        self._ends2 = frozenset(f for f in forms if len(f) == 2)
        # The same test, lowercase, to join with other lists' (None when a form is shorter than
        # two characters, ends with a space, or with a letter str.lower does not fold as
        # IGNORECASE does).
        ends = [f[-3:] for f in forms]
        self.endings = Endings(frozenset(e.lower() for e in ends if len(e) == 3),
                               frozenset(e.lower() for e in ends if len(e) == 2)) \
            if all(len(e) >= 2 and e == e.rstrip() and not _NOT_PLAIN.search(e) for e in ends) \
            else None

    def find(self, text: str) -> tuple[int, str] | None:
        if not self._exact or (self._ignore_case and _NOT_PLAIN.search(text)):
            m = self.pattern.search(text)
            return None if m is None else (m.start(), next(g for g in m.groups() if g))
        stripped = text.rstrip()
        said = stripped.lower() if self._ignore_case else stripped  # plain: one for one
        if self._quick and said[-3:] not in self._ends3 and said[-2:] not in self._ends2:
            return None
        size = len(stripped)
        for length in self._lengths:
            start = size - length
            if start < 0 or (start and _is_word(text[start - 1])):
                continue
            group = self._forms.get(said[start:])
            if group:
                return start, stripped[start : start + group]
        return None


@dataclass(frozen=True)
class Endings:
    """The quick test of EndWords, lowercase, so that several lists are tested at once (`|`):
    the last three characters of each form, or both of a form of two."""

    three: frozenset[str]
    two: frozenset[str]

    def __or__(self, other: Endings) -> Endings:
        return Endings(self.three | other.three, self.two | other.two)

    def may_end(self, text: str) -> bool:
        """False only when `text`, spaces aside, ends with no form, in any case. Exact where
        str.lower folds as IGNORECASE does (see WordGate): text ending otherwise always may."""
        end = text.rstrip()[-3:]
        if not (end.isascii() or not _NOT_PLAIN.search(end)):
            return True
        end = end.lower()
        return end in self.three or end[-2:] in self.two
