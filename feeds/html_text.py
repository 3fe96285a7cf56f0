"""Turn an HTML summary into plain text, leaving out what is not the summary: images, scripts,
and the lists of related articles some feeds append (SGGP puts a <ul> of links after the text)."""

from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from vntext import normalize

MAX_SUMMARY_CHARS = 1500

# Elements that carry no summary text.
_DROP = "script, style, noscript, iframe, object, embed, svg, figure, img, video, audio, form"
# Containers of "related articles" by their class or id.
_RELATED_MARKERS = ("related", "relate", "lien-quan", "lienquan", "box-tin", "see-also", "readmore")
# Where a plain-text "related" tail starts: "Xem thêm: ...", "Tin liên quan: ...".
_RELATED_TAIL = re.compile(
    r"\s*(?:>>\s*)?\b(?:Xem thêm|Tin liên quan|Bài liên quan|Đọc thêm|Tin cùng chuyên mục)"
    r"\s*[:>].*$",
    re.S | re.I,
)
# Block elements end a line of text; insert a space so "</p><p>" does not glue sentences.
_BLOCK_TAG = re.compile(r"<(?=/?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|blockquote|section)\b)", re.I)


def _is_link_list(node: LexborNode) -> bool:
    """A list whose every item is a link: a "related articles" block, not part of the summary."""
    items = node.css("li")
    return bool(items) and all(item.css_first("a") is not None for item in items)


def _is_related_box(node: LexborNode) -> bool:
    attrs = node.attributes
    marker = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    return any(word in marker for word in _RELATED_MARKERS)


def html_to_text(fragment: str | None, limit: int = MAX_SUMMARY_CHARS) -> str:
    """Plain, normalised text of an HTML fragment, cut at `limit` characters on a word boundary."""
    if not fragment:
        return ""
    if "<" not in fragment:
        text = html.unescape(fragment) if "&" in fragment else fragment
    else:
        tree = LexborHTMLParser(_BLOCK_TAG.sub(" <", fragment))
        for node in tree.css(_DROP):
            node.decompose()
        for node in tree.css("ul, ol"):
            if _is_link_list(node):
                node.decompose()
        for node in tree.css("[class], [id]"):
            if node.parent is not None and _is_related_box(node):
                node.decompose()
        body = tree.body
        text = body.text(separator="") if body is not None else ""
    text = _RELATED_TAIL.sub("", normalize(text))
    return _truncate(text, limit)


def clean_title(title: str | None) -> str:
    """A title as text: some feeds put markup or doubly escaped entities in titles."""
    if not title:
        return ""
    text = html.unescape(title) if "&" in title else title
    if "<" in text:
        return html_to_text(text, limit=1000)
    return normalize(text)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"
