"""The officials' report: its header counts items, and the chart's daily bars count each item
once, its topics as stacked parts, so the days add up to the header's count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from render.report import daily_parts, render_report
from storage.views import ItemView

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 9, 14, tzinfo=TZ).astimezone(UTC)
END = START + timedelta(days=3)


def _item(n: int, day: int, *topics: str) -> ItemView:
    return ItemView(id=n, title=f"Tin {n}", summary="", url=f"https://a.example.vn/{n}",
                    published_at=START + timedelta(days=day, hours=9), source_name="Báo",
                    provinces=("15",), topics=topics)


def test_daily_bars_add_up_to_the_header_count() -> None:
    items = [
        _item(1, 0, "nha-dai-doan-ket", "giam-ngheo-an-sinh"),
        _item(2, 0, "thien-tai-cuu-tro", "giam-ngheo-an-sinh", "nha-dai-doan-ket"),
        _item(3, 0),
        _item(4, 2, "thien-tai-cuu-tro"),
    ]
    report = render_report(items, ["15"], START, END, lang="vi", tz=TZ, limit=4096)
    assert report.total == 4 and "Lào Cai: 4 tin" in report.parts[0]
    # Per topic an item counts under each of its topics: 7 labels over 4 items.
    assert sum(count for _, count in report.counts) == 7
    slugs = [slug for slug, _ in report.counts]
    days = daily_parts(items, slugs, START, END, TZ)
    assert [day.isoformat() for day, _ in days] == ["2026-09-14", "2026-09-15", "2026-09-16"]
    totals = [sum(parts) for _, parts in days]
    assert [round(total, 9) for total in totals] == [3, 0, 1]
    assert round(sum(totals), 9) == report.total
    first = dict(zip(slugs, days[0][1], strict=True))
    assert round(first["nha-dai-doan-ket"], 9) == round(1 / 2 + 1 / 3, 9)
    assert first[""] == 1  # an item without a topic is its own part
