"""Officials' reports: the items about some provinces in a period, made into messages and a chart
by render.report.

Used by the scheduled official digests (delivery.contents) and by the chat's /report command.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import exists, select

from render.report import Report, render_report, report_chart
from runtime import App
from storage.dialect import not_a_copy
from storage.models import Item, ItemProvince
from storage.views import load_items


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
                not_a_copy(),
                exists().where(ItemProvince.item_id == Item.id,
                               ItemProvince.province.in_(province_codes)),
            )
        )).all()
        views = await load_items(session, ids)
    items = list(views.values())
    report = render_report(items, province_codes, start, end, lang=lang, tz=tz, limit=limit)
    if chart and report.total:
        # Drawing takes a while: a worker thread keeps the event loop free.
        report.png = await asyncio.to_thread(report_chart, items, report.counts, start, end,
                                             lang=lang, tz=tz)
    return report
