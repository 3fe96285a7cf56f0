"""Text prepared for matching, with a way back to the original for evidence.

Matching runs on `folded`: the text folded as vntext folds it (lowercase, đ→d, no marks), one
character for each character of the original, so offsets need no mapping. Punctuation inside a
name reads as a space, so "TP.HCM" reads "tp hcm" and "BR-VT" "br vt". Punctuation between
clauses (",", "(", a full stop, a spaced dash, a quotation mark) reads as a space too, next to
the space that follows it: two spaces, which no single-spaced key spans, so "Lập Thạch, Vĩnh
Phúc" cannot match the commune "Thạch Vĩnh". Keys are built the same way (`match_key`) and
padded with one space on each side, so matches fall on word bounds.

`text` is the normalised original (vntext.normalize), which rules read for exact wording and
evidence quotes; `cased` is `folded` with the original's capitals, for casing rules.

Diacritics are meaning: in a title or summary written with marks, a name counts only with its own
marks ("cá màu" is not Cà Mau); `marks_form` is what that comparison reads. A segment with no
marked letter at all was typed without diacritics, and there folding alone decides.

Hostile input: only the first TITLE_CAP characters of a title and SUMMARY_CAP of a summary are
read, so a 1 MB title costs what a long headline costs.

Compiled with mypyc where a compiler is at hand (classify/native.py says when and why): it
prepares every item, and compiled it costs a fraction of the interpreter's overhead. The
translation tables and fast paths above are hand-written because they help either way. Most
texts are folded and normalised in one pass each by classify/texttable.c, through tables built
here from the Python steps, which remain for every text it cannot answer for.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from classify import native
from vntext import fold, normalize
from vntext.normalize import CLUSTERS, ODD_CHARACTERS, marked_forms

TITLE_CAP: Final = 600  # characters of a title that are read (real headlines are under 300)
SUMMARY_CAP: Final = 2_000  # characters of a summary (a lead of a few sentences)
_SEP: Final = "\u2063"  # invisible separator: not a space, not a word character, kept by normalize
_MARKS: Final = re.compile(r"[\u0300-\u036f]")  # what vntext.fold strips
_APOSTROPHES: Final = re.compile("[’‘ʼ`´]")
_CLAUSE: Final = re.compile(r"[,;:!?()\[\]{}\"“”«»…–—|/\\\n\t•·]")
# Any other punctuation or symbol, a full stop and a hyphen: a word bound as a clause mark is.
_SYMBOL: Final = re.compile(r"[^\w\s']|_")


def _read_clauses(text: str) -> str:
    """Apostrophes unified, clause marks read as spaces."""
    return _CLAUSE.sub(" ", _APOSTROPHES.sub("'", text))


# ASCII as _flatten reads it, in one byte translation (several times faster than the patterns).
_ASCII_BYTES: Final = bytes(ord(_SYMBOL.sub(" ", _read_clauses(chr(b)))) for b in range(128)) \
    + bytes(range(128, 256))
_NOT_ASCII_OR_MARK: Final = re.compile(r"[^\x00-\x7f\u0300-\u036f]")
# The lower-case letters only Vietnamese written with its marks has.
VIETNAMESE_LETTERS: Final = ("àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữ"
                      "ỳýỵỷỹđ")
_NOT_WORD: Final = re.compile(r"[\W_]+")
HEADLINE_CAP: Final = 300  # characters: a headline runs to 150 or so


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character folded by vntext, keeping its case, for text NFD would lengthen."""
    if ch.isspace():
        return ch
    if ch in "đĐ":
        return "d" if ch == "đ" else "D"
    folded = fold(ch)
    out = folded[0] if len(folded) == 1 else ch
    return out.upper() if ch.isupper() and len(out.upper()) == 1 else out


# The characters the C readers' tables answer for: Latin, Vietnamese and punctuation.
_TABLE_BLOCKS: Final = ((0x0000, 0x0250), (0x1E00, 0x1F00), (0x2000, 0x2070))


def _fold_table() -> bytes:
    """What the fast path of `_flatten` folds each character to, where that is one ASCII
    character (its marks stripped, punctuation read as a space), as a byte; 0 for the others.
    Latin, Vietnamese and punctuation only: a text with another character folds in Python."""
    table = bytearray(_TABLE_BLOCKS[-1][1])
    for start, end in _TABLE_BLOCKS:
        for code in range(start, end):
            char = chr(code).replace("đ", "d").replace("Đ", "D")
            decomposed = unicodedata.normalize("NFD", _read_clauses(char))
            ascii_ = decomposed.encode("ascii", "ignore")
            # as `_flatten_python`'s fast path tests a text: one ASCII character, then marks
            if len(ascii_) == 1 and decomposed[0].isascii() \
                    and not _NOT_ASCII_OR_MARK.search(decomposed):
                table[code] = _ASCII_BYTES[ascii_[0]]
    return bytes(table)


def _stays_nfc(char: str) -> bool:
    """Whether a character of `_TABLE_BLOCKS` stays as it is in NFC beside any other of them.
    In those blocks NFC leaves a character that it leaves alone as it is beside any other too:
    they hold no character NFC may join to the one before it (its quick check's "maybe": marks,
    Hangul vowels, some Indic vowel signs)."""
    return unicodedata.combining(char) == 0 and unicodedata.is_normalized("NFC", char)


def _plain_table() -> bytes:
    """classify/texttable.c's flags for `plain`, by character: 1 a character vntext.normalize
    replaces or removes, or one not known to stay NFC beside any other (`_TABLE_BLOCKS`; every
    character beyond the table counts so too), 2 a "q"; for the k-th of vntext's clusters,
    4 << k its first vowel and 32 << k its second with a tone mark (either case)."""
    marked = [(first + first.upper(), marked_forms(second)) for first, second in CLUSTERS]
    size = max(*map(ord, ODD_CHARACTERS + "".join(m for _, m in marked)),
               *(end - 1 for _, end in _TABLE_BLOCKS)) + 1
    table = bytearray(b"\x01" * size)
    for start, end in _TABLE_BLOCKS:
        for code in range(start, end):
            if _stays_nfc(chr(code)) and chr(code) not in ODD_CHARACTERS:
                table[code] = 0
    for char in "qQ":
        table[ord(char)] |= 2
    for k, (firsts, seconds) in enumerate(marked):
        for char in firsts:
            table[ord(char)] |= 4 << k
        for char in seconds:
            table[ord(char)] |= 32 << k
    return bytes(table)


_Fold = Callable[[str, bytes], str | None]
_Plain = Callable[[str, bytes], bool]
_Find = Callable[[str, bytes, bool, int, int], bool]


def _in_c() -> tuple[_Fold | None, _Plain | None, _Find | None]:
    """classify/texttable.c's `fold`, `plain` and `find`, where they were compiled with the
    rest (classify/native.py); None: the text is read in Python alone."""
    if native.MODE != "compiled":
        return None, None, None
    try:
        from classify import _texttable
    except ImportError:
        return None, None, None
    return _texttable.fold, _texttable.plain, _texttable.find


# (Final: compiled, a module's other globals are looked up in its dict at every use)
_IN_C: Final = _in_c()
_FOLD_IN_C: Final = _IN_C[0]
_PLAIN_IN_C: Final = _IN_C[1]
_FIND_IN_C: Final = _IN_C[2]
# (built only for the C readers: the Python steps need no table)
_FOLD_TABLE: Final = _fold_table() if _FOLD_IN_C is not None else b""
_PLAIN_TABLE: Final = _plain_table() if _PLAIN_IN_C is not None else b""


class CharSearch:
    """Whether a text holds a character of one character class, as `pattern.search(text, start,
    end)` says of `pattern`, that class alone. Asked of every name and phrase, where `re` runs
    its matcher at each character; compiled, classify/texttable.c's `find` reads the text
    through a table of the first `size` code points instead (every code point beyond is in the
    class or not, as the one at `size` is: a test checks each)."""

    def __init__(self, pattern: str, size: int) -> None:
        self.pattern = re.compile(pattern)
        self._beyond = self.pattern.match(chr(size)) is not None
        self._table = b"" if _FIND_IN_C is None else \
            bytes(self.pattern.match(chr(code)) is not None for code in range(size))

    def search(self, text: str, start: int = 0, end: int = sys.maxsize) -> bool:
        if _FIND_IN_C is not None:
            return _FIND_IN_C(text, self._table, self._beyond, start, end)
        return self.pattern.search(text, start, end) is not None


# Both cases spelt out, not IGNORECASE: the same characters (every code point checked), and
# `re` tests a plain class without folding each character's case first.
MARKED: Final = CharSearch(f"[{VIETNAMESE_LETTERS}{VIETNAMESE_LETTERS.upper()}]",
                           max(map(ord, VIETNAMESE_LETTERS.upper() + VIETNAMESE_LETTERS)) + 1)


def _normalized(text: str) -> str:
    """vntext.normalize(text); most texts are NFC already with nothing else to change, and
    classify/texttable.c tells so in one pass where NFC's own check and the patterns took
    several. A feed's decomposed text (NFD) may be, once composed."""
    if _PLAIN_IN_C is not None:
        if _PLAIN_IN_C(text, _PLAIN_TABLE):
            return text
        nfc = unicodedata.normalize("NFC", text)  # (`text` itself when it is NFC already)
        if nfc is not text and _PLAIN_IN_C(nfc, _PLAIN_TABLE):
            return nfc
    return normalize(text)


def _flatten(text: str) -> str:
    """Fold `text` keeping case, one character per character, punctuation read as spaces."""
    if _FOLD_IN_C is not None:  # most texts: one pass through a table (classify/texttable.c)
        flat_c = _FOLD_IN_C(text, _FOLD_TABLE)
        if flat_c is not None:
            return _unquote(flat_c) if "'" in flat_c else flat_c
    return _flatten_python(text)


def _flatten_python(text: str) -> str:
    """`_flatten` in Python alone: any text, and the reference for classify/texttable.c."""
    # Folding by dropping whatever is not ASCII after NFD is fast and, when no character was
    # lost, equals vntext's fold with case kept; otherwise strip the marks one by one.
    flat = text.replace("đ", "d").replace("Đ", "D")
    ascii_ = unicodedata.normalize("NFD", flat).encode("ascii", "ignore")
    fast = len(ascii_) == len(flat)
    if not fast:
        # Most often non-ASCII punctuation ("“", "–", "…", "’"; in a tenth of news items): read
        # first (as the byte translation reads it, so twice is once), the fast path is exact
        # where all NFD adds to ASCII is marks the slow path strips.
        flat = _read_clauses(flat)
        decomposed = unicodedata.normalize("NFD", flat)
        ascii_ = decomposed.encode("ascii", "ignore")
        fast = len(ascii_) == len(flat) and not _NOT_ASCII_OR_MARK.search(decomposed)
    if fast:
        flat = ascii_.translate(_ASCII_BYTES).decode("ascii")
    else:
        flat = _MARKS.sub("", unicodedata.normalize("NFD", _read_clauses(flat)))
        if len(flat) != len(text):  # a character NFD splits in two (rare outside Vietnamese)
            flat = _read_clauses(_MARKS.sub("", "".join(map(_fold_char, text))))
        flat = _SYMBOL.sub(" ", flat)
    return _unquote(flat) if "'" in flat else flat


def _unquote(flat: str) -> str:
    """A quote mark is a clause mark, read as a space; an apostrophe between two letters or
    digits ("M'gar") is not. (A loop over the few "'" found: the pattern it replaces, a
    lookbehind tried at every character, cost a tenth of preparing an item.)"""
    parts: list[str] = []
    last, at, end = 0, flat.find("'"), len(flat) - 1
    while at >= 0:
        if not (0 < at < end and flat[at - 1].isalnum() and flat[at + 1].isalnum()):
            parts += (flat[last:at], " ")
            last = at + 1
        at = flat.find("'", at + 1)
    return "".join(parts) + flat[last:] if parts else flat


def fold_for_match(text: str) -> str:
    """The folded form matching uses: "TP. Hồ Chí Minh" → "tp  ho chi minh"."""
    return match_key(normalize(text))


def match_key(normalized: str) -> str:
    """`fold_for_match` for text that is already normalised (data files), without the cost."""
    return cased_key(normalized).lower()


def cased_key(normalized: str) -> str:
    """`match_key` with the capitals kept: "Đắk Lắk" → "Dak Lak"."""
    return _flatten(normalized).strip()


# Spellings of one syllable that official names themselves mix ("Đăk Glei", "Đắk Lắk").
_SAME_SYLLABLE: Final = {"đăk": "đắk", "đak": "đắk", "lăk": "lắk", "đăc": "đắk", "đắc": "đắk",
                         "lắc": "lắk"}


def find_sentence_end(text: str, pos: int = 0) -> tuple[int, int] | None:
    """The span of the first sentence end in `text` from `pos`: ".", "!" or "?", then a space
    (in the span) or the text's end; None where there is none. What `re.search(r"[.!?](?:\s|$)")`
    gives, by str.find: the pattern tested its character class at every character, for every
    item."""
    size, first = len(text), -1
    for mark in ".!?":
        at = text.find(mark, pos)
        while at >= 0 and (first < 0 or at < first):
            if at + 1 == size or text[at + 1].isspace():
                first = at
                break
            at = text.find(mark, at + 1)
    if first < 0:
        return None
    return first, (first + 2 if first + 1 < size else first + 1)


def marks_form(normalized: str) -> str:
    """Lowercase words with their marks, punctuation read as a space: "TP. Huế" → "tp huế"."""
    lowered = normalized.lower()
    words = lowered.split()
    # Words of letters and digits alone hold nothing `_NOT_WORD` would cut (most names).
    if not all(w.isalnum() for w in words):
        words = _NOT_WORD.sub(" ", lowered).split()
    return " ".join(_SAME_SYLLABLE.get(w, w) for w in words)


@dataclass(init=False)
class Prepared:
    text: str  # normalised title, "\n\n", normalised summary
    title_end: int  # where the title ends in text (title is text[:title_end])
    folded: str  # " " + folded text + " ", aligned with `text` one character further on
    cased: str  # `folded` with the capitals of the original: "Đắk Lắk" reads "Dak Lak"
    title_marked: bool = True  # written with diacritics: names must match with their marks
    summary_marked: bool = True

    # Written out (dataclass init=False): compiled, the generated __init__ runs as Python.
    def __init__(self, text: str, title_end: int, folded: str, cased: str,
                 title_marked: bool = True, summary_marked: bool = True) -> None:
        self.text, self.title_end, self.folded, self.cased = text, title_end, folded, cased
        self.title_marked, self.summary_marked = title_marked, summary_marked

    def headline_end(self) -> int:
        """Where the headline ends in `text`: the title's end or, with no title, the end of the
        summary's first sentence, which stands for it (a summary with no sentence end: its first
        HEADLINE_CAP characters, not all of it)."""
        if self.title_end:
            return self.title_end
        found = find_sentence_end(self.text, 2)
        return found[1] if found else min(len(self.text), 2 + HEADLINE_CAP)

    def marked(self, pos: int) -> bool:
        """Whether the segment holding text offset `pos` is written with diacritics."""
        return self.title_marked if pos < self.title_end else self.summary_marked

    @staticmethod
    def span(start: int, end: int) -> tuple[int, int]:
        """`text` span of the folded span [start, end)."""
        return start - 1, end - 1


def prepare(title: str | None, summary: str | None = "") -> Prepared:
    # Capped first (hostile input), then one normalize call for both fields (it is the costliest
    # step); the separator survives it.
    title = (title or "")[:TITLE_CAP].replace(_SEP, "")
    summary = (summary or "")[:SUMMARY_CAP].replace(_SEP, "")
    both = _normalized(f"{title}{_SEP}{summary}")
    head, _, tail = both.partition(_SEP)
    head, tail = head.rstrip(), tail.lstrip()
    text = f"{head}\n\n{tail}"  # two characters: two spaces when folded
    flat = _flatten(text)
    if len(flat) != len(text):  # marks NFC could not attach to a letter: drop them from both
        # (the title's end moves too, and a mark after a space leaves none at either edge)
        head, tail = _MARKS.sub("", head).rstrip(), _MARKS.sub("", tail).lstrip()
        text = f"{head}\n\n{tail}"
        flat = _flatten(text)
    cased = f" {flat} "
    folded = cased.lower()
    if len(folded) != len(cased):  # a capital whose lowercase is longer: keep offsets aligned
        folded = "".join(c.lower()[:1] for c in cased)
    title_end = len(head)
    return Prepared(text=text, title_end=title_end, folded=folded, cased=cased,
                    title_marked=MARKED.search(text, 0, title_end),
                    summary_marked=MARKED.search(text, title_end))
