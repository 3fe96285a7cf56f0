"""Officials' reports: per-topic counts, the items and a chart, for some provinces and a period.

Used by the scheduled official digests (delivery.contents) and by the chat's /report command.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select

from catalog import province_name, topic_name
from delivery.chart import render_chart
from delivery.views import ItemView, load_items
from render.compose import render_digest
from render.markup import escape
from render.texts import t
from runtime import App
from storage.models import Item, ItemProvince

# The counts and the chart cover every item; the listing stops at the newest ones.
MAX_LISTED = 50


@dataclass
class Report:
    parts: list[str]  # Telegram HTML, each within the limit; the first has header and counts
    counts: list[tuple[str, int]]  # (topic slug, or "" for none, count), largest first
    png: bytes | None  # the chart; None when there are no items
    caption: str  # a short caption for the chart
    total: int


def _day_range(start: datetime, end: datetime, tz) -> list[date]:  # type: ignore[no-untyped-def]
    first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def build_report(
    app: App, province_codes: list[str], start: datetime, end: datetime, lang: str = "vi",
    *, limit: int = 4096, chart: bool = True,
) -> Report:
    """The report on items published in [start, end) about any of `province_codes`.

    `limit` is the channel's message length (capabilities.max_text_units). With no items the
    report is just its header and a "no items" line, and `png` is None."""
    tz = app.settings.tz
    async with app.sessions() as session:
        ids = (await session.scalars(
            select(Item.id).where(
                Item.published_at >= start, Item.published_at < end,
                Item.duplicate_of.is_(None),
                exists().where(ItemProvince.item_id == Item.id,
                               ItemProvince.province.in_(province_codes)),
            )
        )).all()
        views = await load_items(session, ids)
    items = sorted(views.values(), key=lambda i: (i.published_at, i.id), reverse=True)

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

    def label(slug: str) -> str:
        return topic_name(slug, lang) if slug else t(lang, "digest_no_topic")

    lines = [t(lang, "report_counts")]
    lines += [f"• {escape(label(slug))}: <b>{count}</b>" for slug, count in ranked]
    more = [t(lang, "report_more", count=len(items) - MAX_LISTED)] if len(items) > MAX_LISTED else []
    parts = render_digest(items[:MAX_LISTED], header=header, lang=lang, tz=tz, limit=limit,
                          preamble=["\n".join(lines)], postscript=more)
    png = None
    if chart:
        png = await asyncio.to_thread(_chart, items, ranked, start, end, tz, lang, label)
    return Report(parts, ranked, png, caption, len(items))


def _chart(items: list[ItemView], ranked: list[tuple[str, int]], start: datetime,
           end: datetime, tz, lang: str, label) -> bytes:  # type: ignore[no-untyped-def]
    slugs = [slug for slug, _ in ranked]
    days = _day_range(start, end, tz)
    per_day = {day: [0] * len(slugs) for day in days}
    for item in items:
        day = item.published_at.astimezone(tz).date()
        if day in per_day:
            for slug in item.topics or ("",):
                per_day[day][slugs.index(slug)] += 1
    return render_chart(
        [(label(slug), count) for slug, count in ranked],
        [(day, per_day[day]) for day in days],
        title=t(lang, "report_chart_title"), days_title=t(lang, "report_chart_days"),
    )
