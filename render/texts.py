"""User-facing texts: the one catalogue, data/messages/<lang>.json, for chat replies and for what
delivery sends (digests, reports, alerts), joined by the web pages' texts in
data/messages/web/<lang>.json (kept apart only so each file stays about one audience; a key is
in one file). Vietnamese is the default and the fallback.

Templates are Telegram HTML. Parameters are HTML-escaped when inserted, unless wrapped in `Html`
(text the caller has already built safely), so user-given text can never break the markup.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from render.markup import Html, escape

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "data" / "messages"
LANGS = ("vi", "en")
DEFAULT_LANG = "vi"


@cache
def messages(lang: str) -> dict[str, str]:
    templates: dict[str, str] = json.loads((MESSAGES_DIR / f"{lang}.json").read_text("utf-8"))
    web: dict[str, str] = json.loads((MESSAGES_DIR / "web" / f"{lang}.json").read_text("utf-8"))
    twice = templates.keys() & web.keys()
    if twice:
        raise ValueError(f"texts in both catalogues: {sorted(twice)}")
    return templates | web


def t(lang: str, key: str, **params: object) -> Html:
    """The text `key` in `lang` (falling back to Vietnamese), with `params` escaped into it."""
    template = messages(lang if lang in LANGS else DEFAULT_LANG).get(key)
    if template is None:
        template = messages(DEFAULT_LANG)[key]
    return Html(template.format(**{name: escape(value) for name, value in params.items()}))
