"""User-facing texts, from data/messages/<lang>.json. Vietnamese is the default and the fallback.

Templates are Telegram HTML. Parameters are HTML-escaped when inserted, unless wrapped in `Html`
(text the caller has already built safely), so user-given text can never break the markup.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "data" / "messages"
LANGS = ("vi", "en")
DEFAULT_LANG = "vi"


class Html(str):
    """A string that is already valid Telegram HTML: inserted into templates as is."""


def escape(text: object) -> str:
    return text if isinstance(text, Html) else html.escape(str(text), quote=False)


@lru_cache(maxsize=None)
def messages(lang: str) -> dict[str, str]:
    path = MESSAGES_DIR / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def t(lang: str, key: str, **params: object) -> Html:
    """The text `key` in `lang` (falling back to Vietnamese), with `params` escaped into it."""
    template = messages(lang if lang in LANGS else DEFAULT_LANG).get(key)
    if template is None:
        template = messages(DEFAULT_LANG)[key]
    return Html(template.format(**{name: escape(value) for name, value in params.items()}))
