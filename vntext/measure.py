"""Message length as Telegram counts it."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP (most emoji) count twice."""
    # Encoding runs in C: much faster than a Python loop over characters, the same count.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
