"""Fold text for matching: the gazetteer, topic rules, subscriptions and search all use this."""

import re
import unicodedata

from vntext.normalize import normalize

_MARKS = re.compile(r"[\u0300-\u036f]")
_D = str.maketrans({"đ": "d", "Đ": "d"})
_WORD = re.compile(r"\w+")


def fold(text: str | None) -> str:
    """Lowercase, đ→d and all diacritics stripped: "Đại Đoàn Kết" → "dai doan ket".

    Punctuation is kept so that callers can still see "TP.HCM" or "BR-VT".
    """
    text = normalize(text).lower().translate(_D)
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", text)))


def fold_tokens(text: str | None) -> list[str]:
    """The folded words of a text, punctuation dropped."""
    return _WORD.findall(fold(text))
