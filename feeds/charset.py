"""Decode what a server sent, trusting the bytes over the labels.

Vietnamese sites still serve windows-1258 (tone marks as combining characters) and some declare a
charset their bytes do not use. Valid UTF-8 with non-ASCII bytes is almost never anything else, so
it wins over any declaration; otherwise the declared charset, then windows-1258, then windows-1252.
"""

from __future__ import annotations

import codecs
import re

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_FALLBACKS = ("cp1258", "cp1252")


def _codec(name: str | bytes | None) -> str | None:
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charsets(body: bytes, content_type: str | None) -> list[str]:
    """Charsets the response claims, most authoritative first: HTTP header, XML, HTML meta."""
    found: list[str | None] = []
    if content_type and (match := _HEADER_CHARSET.search(content_type)):
        found.append(_codec(match.group(1)))
    head = body[:2048]
    if declared := _XML_DECL.match(head):
        found.append(_codec(declared.group(1)))
    if declared := _META_CHARSET.search(head):
        found.append(_codec(declared.group(1)))
    return list(dict.fromkeys(name for name in found if name))


def decode(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """The text of `body` and the codec that decoded it."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(name, "replace"), name
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    for name in [*declared_charsets(body, content_type), *_FALLBACKS]:
        if name == "utf-8":
            continue
        try:
            return body.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("cp1252", "replace"), "cp1252"


def to_utf8(body: bytes, content_type: str | None = None) -> bytes:
    """`body` as UTF-8 with its XML declaration saying so; UTF-8 input is returned as is."""
    if not body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not body.startswith(
        codecs.BOM_UTF8
    ):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return _relabel(body)
    text, _ = decode(body, content_type)
    return _relabel(text.encode("utf-8"))


def _relabel(body: bytes) -> bytes:
    """Make the XML declaration (if any) name UTF-8, so the parser does not re-decode."""
    match = _XML_DECL.match(body[:512])
    if match and _codec(match.group(1)) != "utf-8":
        start, end = match.span(1)
        return body[:start] + b"utf-8" + body[end:]
    return body
