"""Vietnamese text handling: the one place for normalising, folding and measuring text.

- ``normalize``: what we store and show (NFC, one tone-mark style, clean whitespace).
- ``fold``: what we match on (``normalize`` + lowercase, đ→d, no marks).
- ``utf16_len``, ``utf16_fit``: how Telegram counts message length, and where to cut to a limit.
"""

from vntext.fold import fold, fold_tokens
from vntext.measure import utf16_fit, utf16_len
from vntext.normalize import normalize, unify_tone_marks

__all__ = ["fold", "fold_tokens", "normalize", "unify_tone_marks", "utf16_fit", "utf16_len"]
