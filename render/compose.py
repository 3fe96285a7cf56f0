"""Compose messages from items: one item, a short batch, or a digest split into parts.

Output is Telegram HTML: titles and summaries are plain text and always escaped; the item's link
is an attribute and escaped as one. Plain-text channels convert it with
`render.markup.html_to_plain`. Lengths are counted in UTF-16 units (`vntext.utf16_len`) on the
markup itself, which is never shorter than what the user sees, so a part under the limit is
always accepted.

Also used by the chat handlers for /search and /latest: `render_item` for one result and
`split_parts` for a long list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from operator import attrgetter, itemgetter

from catalog import province_name, topic_name
from render.markup import escape, escape_attr, html_to_plain
from render.texts import t
from storage.views import ItemView
from vntext import utf16_fit, utf16_len

TITLE_UNITS = 400
SUMMARY_UNITS = 300
PART_SEP = "\n\n"
# Room kept free in each part for its "(2/3)" marker.
MARKER_UNITS = 16
MAX_ALERT_UNITS = 3000


def truncate(value: str, units: int) -> str:
    """Cut plain text to at most `units` UTF-16 units, at a word boundary, with an ellipsis."""
    if utf16_len(value) <= units:
        return value
    head = value[: utf16_fit(value, units - 1)]  # room for the ellipsis
    if " " in head[len(head) // 2 :]:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,.;:-") + "…"


def render_alert(lang: str, alert: str, params: Mapping[str, object]) -> str:
    """An admin alert: its heading, then its text `alert_<alert>` from the catalogue, each
    parameter escaped and cut so that the whole stays within MAX_ALERT_UNITS."""
    cut = {key: truncate(str(value), MAX_ALERT_UNITS // 4) for key, value in params.items()}
    return t(lang, "alert_prefix") + "\n" + t(lang, f"alert_{alert}", **cut)


def local_time(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def render_item(
    item: ItemView, *, lang: str = "vi", tz: tzinfo, labels: bool = True, summary: bool = True
) -> str:
    """One item as an HTML block: linked title, summary, then source and local time.

    `labels` adds its provinces and topics (left out in digests, whose headings show them).
    """
    return _render_item(item, lang, tz, labels, summary)


def _render_item(item: ItemView, lang: str, tz: tzinfo, labels: bool, summary: bool) -> str:
    lines = [
        f'<b><a href="{escape_attr(item.url)}">{escape(truncate(item.title, TITLE_UNITS))}</a></b>'
    ]
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
    for block in blocks:
        size = _units(block)
        if size > limit:
            pieces = [(piece, utf16_len(piece)) for piece in _fit_block(block, limit)]
        else:
            pieces = [(block, size)]
        for piece, size in pieces:
            if current and used + sep_units + size > limit:
                parts.append(sep.join(current))
                current, used = [], 0
            used += size + (sep_units if current else 0)
            current.append(piece)
    if current:
        parts.append(sep.join(current))
    return parts


def _fit_block(block: str, limit: int) -> Iterable[str]:
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


class Blocks:
    """Rendered item blocks by (item id, lang, labels), shared by the messages of one batch: a
    digest run renders each of a few thousand items once, not once per chat."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.cache: dict[tuple[int, str, bool], str] = {}
        self.entries: dict[tuple[int, str], _Entry] = {}

    def get(self, item: ItemView, lang: str, labels: bool) -> str:
        key = (item.id, lang, labels)
        block = self.cache.get(key)
        if block is None:
            block = self.cache[key] = _render_item(item, lang, self.tz, labels, True)
        return block

    def entry(self, item: ItemView, lang: str) -> _Entry:
        """What a digest needs of an item, computed once: sort key, group, block, its length."""
        key = (item.id, lang)
        found = self.entries.get(key)
        if found is None:
            block = self.get(item, lang, False)
            found = self.entries[key] = (
                (item.published_at, item.id),
                item.provinces[0] if item.provinces else None,
                item.topics[0] if item.topics else None,
                block,
                utf16_len(block),
            )
        return found


# (newest-first key, main province, main topic, block, block length)
_Entry = tuple[tuple[datetime, int], "str | None", "str | None", str, int]


def render_batch(items: Sequence[ItemView], *, lang: str, tz: tzinfo, limit: int,
                 blocks: Blocks | None = None) -> list[str]:
    """Instant delivery: one message for one item; a headed list when several arrive together.
    `blocks`: a cache shared by the messages of one batch."""
    cache = blocks or Blocks(tz)
    ordered = sorted(items, key=_newest_first, reverse=True)
    if len(ordered) == 1:
        return split_parts([cache.get(ordered[0], lang, True)], limit)
    parts: list[str] = [t(lang, "instant_batch", count=len(ordered))]
    parts += [cache.get(item, lang, True) for item in ordered]
    return number_parts(split_parts(_stick_first(parts), limit - MARKER_UNITS))


_newest_first = attrgetter("published_at", "id")


def group_items(
    items: Sequence[ItemView],
) -> list[tuple[str | None, list[tuple[str | None, list[ItemView]]]]]:
    """Items grouped by their main province, then main topic; groups and items newest first."""
    by_province: dict[str | None, dict[str | None, list[ItemView]]] = {}
    for item in sorted(items, key=_newest_first, reverse=True):
        province = item.provinces[0] if item.provinces else None
        topic = item.topics[0] if item.topics else None
        by_province.setdefault(province, {}).setdefault(topic, []).append(item)
    # Dicts keep insertion order, and items were inserted newest first.
    return [(p, list(topics.items())) for p, topics in by_province.items()]


def render_digest(
    items: Sequence[ItemView], *, header: str, lang: str, tz: tzinfo, limit: int,
    preamble: Sequence[str] = (), postscript: Sequence[str] = (), blocks: Blocks | None = None,
    low: Sequence[ItemView] = (),
) -> list[str]:
    """A digest: `header` (already HTML, with the count), optional `preamble` blocks (an
    official's counts), the items grouped by province and topic, newest first, then the `low`
    items (lower-confidence matches) under their own heading, each with its labels, then
    optional `postscript` blocks; split at block boundaries into parts of at most `limit` units,
    numbered "(k/n)" when there are several. No items and no preamble: no parts at all."""
    if not items and not low and not preamble:
        return []
    cache = blocks or Blocks(tz)
    entries = sorted((cache.entry(item, lang) for item in items), key=_first, reverse=True)
    groups: dict[str | None, dict[str | None, list[_Entry]]] = {}
    for entry in entries:
        groups.setdefault(entry[1], {}).setdefault(entry[2], []).append(entry)
    texts = [header, *preamble]
    sizes = [utf16_len(t) for t in texts]
    for province, topics in groups.items():
        first_topic = True
        for topic, members in topics.items():
            heading = _heading(province, topic, lang, first_topic)
            first_topic = False
            # A heading travels with its first item, so no part ends on a bare heading.
            headed = _headed(heading, members[0][3])
            texts.append(headed)
            sizes.append(_units(headed))
            for member in members[1:]:
                texts.append(member[3])
                sizes.append(member[4])
    if low:
        ordered = sorted(low, key=_newest_first, reverse=True)
        headed = _headed(t(lang, "digest_low"), cache.get(ordered[0], lang, True))
        texts.append(headed)
        sizes.append(_units(headed))
        for item in ordered[1:]:
            block = cache.get(item, lang, True)
            texts.append(block)
            sizes.append(_units(block))
    for block in postscript:
        texts.append(block)
        sizes.append(utf16_len(block))
    return number_parts(_pack(texts, sizes, limit - MARKER_UNITS))


_first = itemgetter(0)


def _pack(texts: list[str], sizes: list[int], limit: int, sep: str = PART_SEP) -> list[str]:
    """split_parts for blocks whose lengths are known."""
    if any(size > limit for size in sizes):
        return split_parts(texts, limit, sep)
    parts: list[str] = []
    start, used, sep_units = 0, 0, len(sep)
    for index, size in enumerate(sizes):
        if index > start and used + sep_units + size > limit:
            parts.append(sep.join(texts[start:index]))
            start, used = index, size
        else:
            used += size + (sep_units if index > start else 0)
    if start < len(texts):
        parts.append(sep.join(texts[start:]))
    return parts


@lru_cache(maxsize=4096)
def _heading(province: str | None, topic: str | None, lang: str, with_province: bool) -> str:
    topic_label = topic_name(topic, lang) if topic else t(lang, "digest_no_topic")
    heading = f"🏷 <i>{escape(topic_label)}</i>"
    if with_province:
        province_label = province_name(province) if province else t(lang, "digest_no_province")
        heading = f"📍 <b>{escape(province_label)}</b>\n{heading}"
    return heading


@lru_cache(maxsize=20_000)
def _headed(heading: str, block: str) -> str:
    return f"{heading}\n{block}"


@lru_cache(maxsize=50_000)
def _units(block: str) -> int:
    # Item blocks are cached strings met again and again: measure each once.
    return utf16_len(block)


def _stick_first(blocks: list[str]) -> list[str]:
    """Keep a header block together with the block after it."""
    if len(blocks) < 2:
        return blocks
    return [f"{blocks[0]}\n\n{blocks[1]}", *blocks[2:]]
