"""Text prepared for matching, with a way back to the original for evidence.

Matching runs on `folded`: the text folded by vntext (lowercase, đ→d, no marks). Punctuation
inside a name is a plain space, so "TP.HCM", "TP. HCM" and "TP HCM" all read "tp hcm" and
"BR-VT" reads "br vt". Punctuation between clauses (",", "(", a full stop, a spaced dash, a
quotation mark) reads as two spaces, which no single-spaced key spans: "Lập Thạch, Vĩnh Phúc"
cannot match the commune "Thạch Vĩnh". Keys are built the same way (`match_key`), padded with one
space on each side, so matches fall on word bounds.

`text` is the normalised original (vntext.normalize), which rules read for casing and exact
wording, and which evidence quotes; `span` maps a folded span back to it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from vntext import fold, normalize

_APOSTROPHES = "'’‘ʼ`´"
_CLAUSE = ",;:!?()[]{}\"“”«»…–—|/\\\n\t•·"
_KEEP = ".-'"  # decided by context below
_STRAY_MARKS = re.compile(r"[\u0300-\u036f]")  # combining marks NFC could not attach
# A full stop before a space, a dash between spaces, a quote mark not inside a word: clause marks.
_CONTEXT_CLAUSE = re.compile(r"\.(?= |\||$)|(?<= )-(?= )|(?<![^\W_])'|'(?![^\W_])")
_SOFT = str.maketrans(".-", "  ")
_RUN = re.compile(r"[ |]{2,}|\|")


def _build_table() -> dict[int, str]:
    """One folded character per character, from vntext.fold, so offsets stay aligned."""
    table: dict[int, str] = {}
    ranges = [(0x0000, 0x0530), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x3000, 0x3040), (0xFF00, 0xFF60)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            ch = chr(cp)
            if ch in _APOSTROPHES:
                out = "'"
            elif ch in _KEEP:
                out = ch
            elif ch in _CLAUSE:
                out = "|"
            elif ch.isalnum() and ch != "_":
                folded = fold(ch)
                out = folded[0] if folded and folded[0].isalnum() else " "
            else:
                out = " "  # other punctuation, spaces, marks: a word bound
            if out != ch:
                table[cp] = out
    return table


_TABLE = _build_table()


def _flatten(text: str) -> str:
    """Fold and mark clause bounds with "|", one character per character of `text`."""
    return _CONTEXT_CLAUSE.sub("|", text.translate(_TABLE)).translate(_SOFT)


def fold_for_match(text: str) -> str:
    """The folded form matching uses: "TP. Hồ Chí Minh" → "tp ho chi minh"."""
    return match_key(normalize(text))


def match_key(normalized: str) -> str:
    """`fold_for_match` for text that is already normalised (data files), without the cost."""
    return _RUN.sub(_collapse, _flatten(normalized)).strip()


def _collapse(m: re.Match[str]) -> str:
    return "  " if "|" in m.group() else " "


@dataclass
class Prepared:
    text: str  # normalised title, "\n", normalised summary
    title_end: int  # offset of the "\n" in text (title is text[:title_end])
    folded: str  # " " + folded text + " "
    _runs: list[int] = field(default_factory=list)  # folded offsets where runs were collapsed
    _shift: list[int] = field(default_factory=list)  # text offset minus folded offset after them

    def to_text(self, pos: int) -> int:
        """Offset in `text` of the folded offset `pos` (a character of a word)."""
        i = bisect_left(self._runs, pos)
        return pos - 1 + (self._shift[i - 1] if i else 0)  # -1: the leading space

    def span(self, start: int, end: int) -> tuple[int, int]:
        """`text` span of the folded span [start, end)."""
        return self.to_text(start), self.to_text(end - 1) + 1


def prepare(title: str | None, summary: str | None = "") -> Prepared:
    text = f"{normalize(title)}\n{normalize(summary)}"
    if not text.isascii():
        text = _STRAY_MARKS.sub("", text)
    flat = " " + _flatten(text) + " "
    runs: list[int] = []
    shift: list[int] = []
    pieces: list[str] = []
    last = total = 0
    for m in _RUN.finditer(flat):
        kept = "  " if "|" in m.group() else " "
        pieces.append(flat[last : m.start()])
        pieces.append(kept)
        last = m.end()
        runs.append(m.start() - total)  # where the run starts in the collapsed text
        total += m.end() - m.start() - len(kept)
        shift.append(total)
    if runs:
        pieces.append(flat[last:])
        flat = "".join(pieces)
    return Prepared(text=text, title_end=text.index("\n"), folded=flat, _runs=runs, _shift=shift)
