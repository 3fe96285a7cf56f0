"""Compose messages from items: one item, a short batch, or a digest split into parts.

Output is Telegram HTML: titles and summaries are plain text and always escaped; the item's link
is an attribute and escaped as one. Plain-text channels convert it with
`channels.markup.html_to_plain`. Lengths are counted in UTF-16 units (`vntext.utf16_len`) on the
markup itself, which is never shorter than what the user sees, so a part under the limit is
always accepted.

Also used by the chat handlers for /search and /latest: `render_item` for one result and
`split_parts` for a long list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path

from catalog import province_name, topic_name
from channels.markup import escape, escape_attr, html_to_plain
from delivery.views import ItemView
from vntext import utf16_len

TEXTS_FILE = Path(__file__).resolve().parent.parent / "data" / "delivery_texts.json"
TITLE_UNITS = 400
SUMMARY_UNITS = 300
PART_SEP = "\n\n"
# Room kept free in each part for its "(2/3)" marker.
MARKER_UNITS = 16


@lru_cache(maxsize=1)
def _texts() -> dict[str, dict[str, str]]:
    return json.loads(TEXTS_FILE.read_text(encoding="utf-8"))


def text(lang: str, key: str, **params: object) -> str:
    """A delivery text in `lang` (Vietnamese when missing), with `params` HTML-escaped into it."""
    texts = _texts()
    template = texts.get(lang, {}).get(key) or texts["vi"][key]
    return template.format(**{k: escape(str(v)) for k, v in params.items()})


def truncate(value: str, units: int) -> str:
    """Cut plain text to at most `units` UTF-16 units, at a word boundary, with an ellipsis."""
    if utf16_len(value) <= units:
        return value
    cut, used = [], 0
    for ch in value:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > units - 1:
            break
        cut.append(ch)
        used += size
    head = "".join(cut)
    if " " in head[len(head) // 2 :]:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,.;:-") + "…"


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def render_item(
    item: ItemView, *, lang: str = "vi", tz: tzinfo, labels: bool = True, summary: bool = True
) -> str:
    """One item as an HTML block: linked title, summary, then source and local time.

    `labels` adds its provinces and topics (left out in digests, whose headings show them).
    """
    lines = [f'<b><a href="{escape_attr(item.url)}">{escape(truncate(item.title, TITLE_UNITS))}</a></b>']
    if summary and item.summary:
        lines.append(escape(truncate(item.summary, SUMMARY_UNITS)))
    meta = [escape(item.source_name)] if item.source_name else []
    meta.append(local_time(item.published_at, tz))
    if labels:
        names = [province_name(code) for code in item.provinces]
        names += [topic_name(slug, lang) for slug in item.topics]
        meta.extend(escape(name) for name in names)
    lines.append(f"<i>{' · '.join(meta)}</i>")
    return "\n".join(lines)


def split_parts(blocks: Iterable[str], limit: int, sep: str = PART_SEP) -> list[str]:
    """Join blocks into as few parts as possible, each at most `limit` UTF-16 units, breaking only
    between blocks. A block that is longer than `limit` on its own is broken at its lines, and a
    single line that is still too long is sent as truncated plain text (markup can't be cut)."""
    parts: list[str] = []
    current: list[str] = []
    used = 0
    sep_units = utf16_len(sep)
    for block in _fit_blocks(blocks, limit):
        size = utf16_len(block)
        extra = size + (sep_units if current else 0)
        if current and used + extra > limit:
            parts.append(sep.join(current))
            current, used = [], 0
            extra = size
        current.append(block)
        used += extra
    if current:
        parts.append(sep.join(current))
    return parts


def _fit_blocks(blocks: Iterable[str], limit: int) -> Iterable[str]:
    for block in blocks:
        if utf16_len(block) <= limit:
            yield block
            continue
        for line in block.split("\n"):
            if utf16_len(line) <= limit:
                yield line
            else:
                yield escape(truncate(html_to_plain(line), max(limit // 2, 1)))


def number_parts(parts: list[str]) -> list[str]:
    """Mark each part of a multi-part message "(k/n)" (room was kept by MARKER_UNITS)."""
    if len(parts) < 2:
        return parts
    return [f"{p}\n<i>({k}/{len(parts)})</i>" for k, p in enumerate(parts, 1)]


def render_batch(items: Sequence[ItemView], *, lang: str, tz: tzinfo, limit: int) -> list[str]:
    """Instant delivery: one message for one item; a headed list when several arrive together."""
    ordered = sorted(items, key=lambda i: (i.published_at, i.id), reverse=True)
    if len(ordered) == 1:
        return split_parts([render_item(ordered[0], lang=lang, tz=tz)], limit)
    blocks = [text(lang, "instant_batch", count=len(ordered))]
    blocks += [render_item(item, lang=lang, tz=tz) for item in ordered]
    return number_parts(split_parts(_stick_first(blocks), limit - MARKER_UNITS))


def group_items(items: Sequence[ItemView]) -> list[tuple[str | None, list[tuple[str | None, list[ItemView]]]]]:
    """Items grouped by their main province, then main topic; groups and items newest first."""
    by_province: dict[str | None, dict[str | None, list[ItemView]]] = {}
    for item in sorted(items, key=lambda i: (i.published_at, i.id), reverse=True):
        province = item.provinces[0] if item.provinces else None
        topic = item.topics[0] if item.topics else None
        by_province.setdefault(province, {}).setdefault(topic, []).append(item)
    # Dicts keep insertion order, and items were inserted newest first.
    return [(p, list(topics.items())) for p, topics in by_province.items()]


def render_digest(
    items: Sequence[ItemView], *, header: str, lang: str, tz: tzinfo, limit: int,
    preamble: Sequence[str] = (), postscript: Sequence[str] = (),
) -> list[str]:
    """A digest: `header` (already HTML, with the count), optional `preamble` blocks (an
    official's counts), the items grouped by province and topic, newest first, then optional
    `postscript` blocks; split at block boundaries into parts of at most `limit` units, numbered
    "(k/n)" when there are several. No items and no preamble: no parts at all."""
    if not items and not preamble:
        return []
    blocks = [header, *preamble]
    for province, topics in group_items(items):
        province_label = province_name(province) if province else text(lang, "no_province")
        first_topic = True
        for topic, members in topics:
            topic_label = topic_name(topic, lang) if topic else text(lang, "no_topic")
            heading = f"🏷 <i>{escape(topic_label)}</i>"
            if first_topic:
                heading = f"📍 <b>{escape(province_label)}</b>\n{heading}"
                first_topic = False
            # A heading travels with its first item, so no part ends on a bare heading.
            blocks.append(f"{heading}\n{render_item(members[0], lang=lang, tz=tz, labels=False)}")
            blocks += [render_item(m, lang=lang, tz=tz, labels=False) for m in members[1:]]
    blocks += postscript
    return number_parts(split_parts(blocks, limit - MARKER_UNITS))


def _stick_first(blocks: list[str]) -> list[str]:
    """Keep a header block together with the block after it."""
    if len(blocks) < 2:
        return blocks
    return [f"{blocks[0]}\n\n{blocks[1]}", *blocks[2:]]
