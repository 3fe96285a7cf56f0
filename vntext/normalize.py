"""Normalise Vietnamese text for storage and display."""

import re
import unicodedata

# Tone marks as combining characters (NFD): grave, acute, hook above, tilde, dot below.
_TONES = "\u0300\u0301\u0309\u0303\u0323"

# Two spellings of the same syllable exist for the clusters oa, oe and uy at the end of a
# syllable: the mark on the second vowel ("hoà", "thuỷ", "khoẻ") or on the first ("hòa",
# "thủy", "khỏe"). We settle on the first, which most Vietnamese news text uses.
# The cluster must end the syllable (no final consonant: "hoàng" stays) and "uy" after "q"
# is a different cluster ("quý" stays).


# The clusters written both ways: (first vowel, second vowel).
CLUSTERS = (("o", "a"), ("o", "e"), ("u", "y"))


def marked_forms(vowel: str) -> str:
    """A vowel with each tone mark, lower case then upper case (NFC)."""
    return "".join(unicodedata.normalize("NFC", v + tone) for v in (vowel, vowel.upper())
                   for tone in _TONES)


def _build_tone_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # One character class per cluster rather than one alternative per spelling: the same
    # matches, found much faster (this runs on every item the bot reads). The first pattern is a
    # cheap test that most texts fail.
    classes = [f"[{first}{first.upper()}][{marked_forms(second)}]" for first, second in CLUSTERS]
    all_marked = "".join(marked_forms(second) for _, second in CLUSTERS)
    candidate = re.compile(f"[oOuU][{all_marked}](?!\\w)")
    return candidate, re.compile(r"(?<![qQ])(" + "|".join(classes) + r")(?!\w)")


_TONE_CANDIDATE, _TONE_PATTERN = _build_tone_patterns()


def _move_mark(match: re.Match[str]) -> str:
    first, marked = match.group(1)[0], match.group(1)[1]
    decomposed = unicodedata.normalize("NFD", marked)
    base, tone = decomposed[0], decomposed[1:]
    return unicodedata.normalize("NFC", first + tone) + base


def unify_tone_marks(text: str) -> str:
    """Rewrite "hoà"/"thuỷ"/"khoẻ" as "hòa"/"thủy"/"khỏe". Expects NFC text."""
    if not _TONE_CANDIDATE.search(text):
        return text
    return _TONE_PATTERN.sub(_move_mark, text)


# Zero-width characters and BOMs that feeds leave inside words.
_ZERO_WIDTHS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ZERO_WIDTH = re.compile(f"[{_ZERO_WIDTHS}]")
# Whitespace other than a plain space: what str.isspace() holds true, listed (a class of
# characters is found several times faster than `[^\S ]`; tests/test_vntext.py checks the list).
OTHER_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_OTHER_SPACE = re.compile(f"[{re.escape(OTHER_SPACES)}]")
# Either of the two, in one class: one scan tells most texts (which hold neither) to skip both.
_ODD = re.compile(f"[{_ZERO_WIDTHS}{re.escape(OTHER_SPACES)}]")


# The Icelandic eth ("Ð", "ð") that old encodings and some keyboards put for "Đ", "đ" ("huyện
# Vân Ðồn"): the same letter to a reader, another to a computer.
_ETH = str.maketrans("\u00d0\u00f0", "\u0110\u0111")
# What `normalize` changes in NFC text besides spaces at the ends, two spaces and clusters:
# NFC text with none of these is its own normal form (classify/textmap.py skips it then).
ODD_CHARACTERS = _ZERO_WIDTHS + OTHER_SPACES + "\u00d0\u00f0"


def normalize(text: str | None) -> str:
    """NFC, unified tone marks, "Ð" read as "Đ", zero-width characters removed, whitespace
    collapsed."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    if "\u00d0" in text or "\u00f0" in text:
        text = text.translate(_ETH)
    odd = _ODD.search(text) is not None
    if odd:
        text = _ZERO_WIDTH.sub("", text)
    text = unify_tone_marks(text)  # (adds no odd character)
    if text[:1].isspace() or text[-1:].isspace() or "  " in text \
            or (odd and _OTHER_SPACE.search(text)):
        return " ".join(text.split())  # str.split() and re's \s agree on what whitespace is
    return text  # already clean (most text): splitting and joining would give it back
