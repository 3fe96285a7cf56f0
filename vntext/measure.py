"""Message length as Telegram counts it."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP (most emoji) count twice."""
    # Encoding runs in C: much faster than a Python loop over characters, the same count.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_fit(text: str, units: int) -> int:
    """How many leading characters of `text` fit in `units` UTF-16 code units (the cut point for a
    message limit: a character outside the BMP is never split in half)."""
    # Each character is at least one unit, so no more than `units` characters can fit.
    used = 0
    for index, char in enumerate(text[: max(units, 0)]):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return index
    return min(len(text), max(units, 0))
