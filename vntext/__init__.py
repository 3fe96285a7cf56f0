"""Vietnamese text handling: the one place for normalising, folding and measuring text.

- ``normalize``: what we store and show (NFC, one tone-mark style, clean whitespace).
- ``fold``: what we match on (``normalize`` + lowercase, đ→d, no marks).
- ``utf16_len``: how Telegram counts message length.
"""

from vntext.normalize import normalize, unify_tone_marks
from vntext.fold import fold, fold_tokens
from vntext.measure import utf16_len

__all__ = ["normalize", "unify_tone_marks", "fold", "fold_tokens", "utf16_len"]
