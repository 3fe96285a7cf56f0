"""The officials' report chart: items per topic, and per day when the period spans several days.

matplotlib is imported inside `render_chart`: importing it takes about a second, which the
bot should pay only when it draws its first chart. Drawing uses a bare `Figure` on the Agg canvas
(no pyplot), so there is no global figure state and a chart can be drawn in a worker thread.
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from config import DATA_DIR

if TYPE_CHECKING:  # matplotlib itself is imported only when a chart is drawn
    from matplotlib.axes import Axes

WIDTH_PX, HEIGHT_PX, DPI = 800, 500, 100
LABEL_WIDTH = 26  # characters per line of a topic label before it wraps
# Qualitative palette (matplotlib's tab20 order, dark shades first); one colour per topic.
COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
)


def render_chart(
    totals: Sequence[tuple[str, int]],
    days: Sequence[tuple[date | str, Sequence[float]]] = (),
    *,
    title: str,
    days_title: str = "",
) -> bytes:
    """A PNG of WIDTH_PX×HEIGHT_PX.

    `totals` is (topic label, count) in display order, drawn as horizontal bars (first on top).
    `days` is (day, each topic's part of its items, in the order of `totals`) for each day; with
    two days or more they are drawn below as stacked bars in the same colours, so the bars above
    double as the legend, each bar labelled with its day's number of items.
    """
    # matplotlib keeps its font cache in ~/.config or ~/.cache unless told: keep it in ./data/,
    # the one directory Loa writes to (an MPLCONFIGDIR already set, as in the container, wins).
    os.environ.setdefault("MPLCONFIGDIR", str(DATA_DIR / "matplotlib"))
    from matplotlib import rc_context

    # DejaVu Sans ships with matplotlib and has every Vietnamese glyph, whatever the system's
    # own fonts are.
    with rc_context({"font.family": "DejaVu Sans"}):
        return _draw(totals, days, title, days_title)


def _draw(totals: Sequence[tuple[str, int]], days: Sequence[tuple[date | str, Sequence[float]]],
          title: str, days_title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    colors = [COLORS[i % len(COLORS)] for i in range(len(totals))]
    if len(days) > 1:
        top, bottom = fig.subplots(2, 1, height_ratios=(3, 2))
    else:
        top, bottom = fig.subplots(1, 1), None

    labels = [textwrap.fill(label, LABEL_WIDTH) for label, _ in totals]
    counts = [count for _, count in totals]
    rows = range(len(totals))
    bars = top.barh(rows, counts, color=colors)
    top.bar_label(bars, padding=3, fontsize=8)
    top.set_yticks(rows, labels, fontsize=8 if len(totals) <= 8 else 7)
    top.invert_yaxis()
    top.set_title(title, fontsize=11, loc="left")
    top.margins(x=0.12)
    _tidy(top)

    if bottom is not None:
        positions = range(len(days))
        base = [0.0] * len(days)
        for topic, color in enumerate(colors):
            heights = [day_counts[topic] for _, day_counts in days]
            stacked = bottom.bar(positions, heights, bottom=base, color=color, width=0.7)
            base = [b + h for b, h in zip(base, heights, strict=True)]
        # The day's items: the parts add up to a whole number (rounded against float sums).
        bottom.bar_label(stacked, labels=[str(round(n)) if n else "" for n in base],
                         padding=2, fontsize=7)
        step = max(1, len(days) // 10)  # at most ~10 day labels, so they never overlap
        bottom.set_xticks(list(positions)[::step], [_day_label(day) for day, _ in days][::step],
                          fontsize=8)
        bottom.set_title(days_title, fontsize=10, loc="left")
        _tidy(bottom)

    out = io.BytesIO()
    # No "Software" stamp: the bytes then depend on the data alone.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _day_label(day: date | str) -> str:
    return day if isinstance(day, str) else day.strftime("%d/%m")


def _tidy(axes: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.spines[["top", "right"]].set_visible(False)
    # Counts are whole items: no 0.5 ticks on a short axis.
    for axis in (axes.xaxis, axes.yaxis):
        if axis.get_major_locator().__class__.__name__ != "FixedLocator":
            axis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=8)
