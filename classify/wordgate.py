"""A quick test that lets a slow case-insensitive pattern of alternated words run only where it
can match.

Python's `re` tries every alternative of an IGNORECASE alternation at every position, which made
`places.PlaceRules.named_after` the costliest step of reading a place name (about 7 µs a name).
Most text before a name holds none of its words: one Aho-Corasick pass over the lowercased text
says so for a tenth of the cost, and the pattern runs only when it may match, so the answer is
the pattern's own.

The test is exact only where `str.lower` folds letters as `re.IGNORECASE` does, one for one:
ASCII and the Vietnamese letters (not "İ", "ı", "ſ", Greek…). Text or words with any other
letter always take the pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import ahocorasick

from classify.textmap import VIETNAMESE_LETTERS

# ASCII, Vietnamese letters, and punctuation without case (Latin-1's but "µ", general punctuation).
_PLAIN = f"\x00-\x7f{VIETNAMESE_LETTERS}{VIETNAMESE_LETTERS.upper()}\u00a0-\u00b4\u00b6-\u00bf" \
         "\u2000-\u206f"
_NOT_PLAIN = re.compile(f"[^{_PLAIN}]")


class WordGate:
    """`may_match(text)` is False only when the IGNORECASE pattern of `words` cannot match."""

    def __init__(self, words: Iterable[str]) -> None:
        lowered = {w.lower() for w in words}
        self._automaton: ahocorasick.Automaton | None = None
        if lowered and not any(not w or _NOT_PLAIN.search(w) for w in lowered):
            self._automaton = ahocorasick.Automaton()
            for word in lowered:
                self._automaton.add_word(word, word)
            self._automaton.make_automaton()

    def may_match(self, text: str) -> bool:
        if self._automaton is None or _NOT_PLAIN.search(text):
            return True  # no words (the pattern matches an empty string), or letters to compare
        return next(self._automaton.iter(text.lower()), None) is not None
