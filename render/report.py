"""Officials' reports as messages: the header, per-topic counts, the newest items and a chart,
for some provinces and a period, from the items delivery gathered (delivery/report.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from catalog import province_name, topic_name
from render.chart import render_chart
from render.compose import render_digest
from render.markup import escape
from render.texts import t
from storage.views import ItemView

# The counts and the chart cover every item; the listing stops at the newest ones.
MAX_LISTED = 50


@dataclass
class Report:
    parts: list[str]  # Telegram HTML, each within the limit; the first has header and counts
    counts: list[tuple[str, int]]  # (topic slug, or "" for none, count), largest first
    png: bytes | None  # the chart (drawn by delivery.report with report_chart); None without items
    caption: str  # a short caption for the chart
    total: int


def _day_range(start: datetime, end: datetime, tz: tzinfo) -> list[date]:
    first, last = (
        start.astimezone(tz).date(),
        (end - timedelta(microseconds=1)).astimezone(tz).date(),
    )
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def render_report(
    items: Sequence[ItemView], province_codes: Sequence[str], start: datetime, end: datetime,
    *, lang: str, tz: tzinfo, limit: int,
) -> Report:
    """The report on `items`, published in [start, end) about any of `province_codes`, without
    its chart (`report_chart` draws it, slowly: off the event loop).

    `limit` is the channel's message length (capabilities.max_text_units). With no items the
    report is just its header and a "no items" line."""
    items = sorted(items, key=lambda i: (i.published_at, i.id), reverse=True)
    counts = Counter(topic for item in items for topic in (item.topics or ("",)))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    local_start, local_end = start.astimezone(tz), (end - timedelta(seconds=1)).astimezone(tz)
    places = ", ".join(province_name(code) for code in province_codes)
    if local_start.date() == local_end.date():
        header = t(lang, "report_daily", date=local_start.strftime("%d/%m/%Y"),
                   provinces=places, count=len(items))
    else:
        header = t(lang, "report_range", start=local_start.strftime("%d/%m/%Y"),
                   end=local_end.strftime("%d/%m/%Y"), provinces=places, count=len(items))
    caption = t(lang, "report_chart_caption", start=local_start.strftime("%d/%m"),
                end=local_end.strftime("%d/%m/%Y"))
    if not items:
        return Report([f"{header}\n" + t(lang, "report_empty")], [], None, caption, 0)

    lines: list[str] = [t(lang, "report_counts")]
    lines += [f"• {escape(_label(slug, lang))}: <b>{count}</b>" for slug, count in ranked]
    more = (
        [t(lang, "report_more", count=len(items) - MAX_LISTED)] if len(items) > MAX_LISTED else []
    )
    parts = render_digest(items[:MAX_LISTED], header=header, lang=lang, tz=tz, limit=limit,
                          preamble=["\n".join(lines)], postscript=more)
    return Report(parts, ranked, None, caption, len(items))


def _label(slug: str, lang: str) -> str:
    return topic_name(slug, lang) if slug else t(lang, "digest_no_topic")


def daily_parts(items: Sequence[ItemView], slugs: Sequence[str], start: datetime, end: datetime,
                tz: tzinfo) -> list[tuple[date, list[float]]]:
    """Per day of [start, end): each topic's part of that day's items, in the order of `slugs`.
    An item counts once, split evenly among its topics, so a day's parts add up to its number
    of items and all days to the report's header count."""
    per_day = {day: [0.0] * len(slugs) for day in _day_range(start, end, tz)}
    for item in items:
        parts = per_day.get(item.published_at.astimezone(tz).date())
        if parts is not None:
            topics = item.topics or ("",)
            for slug in topics:
                parts[slugs.index(slug)] += 1 / len(topics)
    return list(per_day.items())


def report_chart(items: Sequence[ItemView], ranked: Sequence[tuple[str, int]], start: datetime,
                 end: datetime, *, lang: str, tz: tzinfo) -> bytes:
    """The chart (PNG) of a report's `ranked` counts per topic, and its items per day of
    [start, end) with the topics as stacked parts (`daily_parts`)."""
    return render_chart(
        [(_label(slug, lang), count) for slug, count in ranked],
        daily_parts(items, [slug for slug, _ in ranked], start, end, tz),
        title=t(lang, "report_chart_title"), days_title=t(lang, "report_chart_days"),
    )
