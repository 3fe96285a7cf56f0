"""Message markup: escaping for Telegram HTML, and the plain-text form for channels without markup.

Everything Loa sends is written once in Telegram's HTML subset (`OutMessage.text`); a plain-text
channel (Zalo, the console) turns it into plain text with `html_to_plain` just before sending.
Text that is already safe HTML is typed `Html`, so that escaping it again is a no-op, not a bug.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser


class Html(str):
    """A string that is already valid Telegram HTML: inserted into templates as is."""


def escape(text: object) -> str:
    """Escape text (titles, summaries, user input) for Telegram HTML element content; `Html` is
    kept as it is."""
    return text if isinstance(text, Html) else html.escape(str(text), quote=False)


def escape_attr(text: str) -> str:
    """Escape a value for an HTML attribute, such as a link's href."""
    return html.escape(text, quote=True)


class _PlainText(HTMLParser):
    """Keeps text, drops tags; a link whose text differs from its address keeps the address."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._link_text = []
        elif tag == "br":
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            text = "".join(self._link_text)
            href, self._href = self._href, None
            self.out.append(text)
            if href and href != text.strip():
                self.out.append(f" {href}" if text else href)

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._link_text.append(data)
        else:
            self.out.append(data)


def html_to_plain(markup: str) -> str:
    """Telegram HTML → plain text: tags dropped, entities decoded, link addresses kept."""
    parser = _PlainText()
    parser.feed(markup)
    parser.close()
    if parser._href is not None:  # an unclosed <a>: keep its text
        parser.out.extend(parser._link_text)
    return "".join(parser.out)
