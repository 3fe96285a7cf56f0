"""/report [province] [period]: an official's province report on demand (their provinces only;
admins may ask for any)."""

from __future__ import annotations

from datetime import timedelta

from catalog import province_name
from channels.base import OutMessage
from handlers import args
from handlers.commands import lookup
from handlers.context import Ctx
from handlers.types import Result

DEFAULT_DAYS = 7


def _split_period(text: str) -> tuple[str, int]:
    """The province part and the period in days: "lao cai 3 ngay" → ("lao cai", 3)."""
    words = text.split()
    for size in (3, 2, 1):
        if len(words) >= size:
            days = args.parse_days(" ".join(words[-size:]))
            if days is not None:
                return " ".join(words[:-size]), days
    return text, DEFAULT_DAYS


async def report(ctx: Ctx, text: str) -> Result:
    where, days = _split_period(text)
    codes = args.provinces_in(where) if where.strip() else list(ctx.person.provinces)
    if not codes:
        return ctx.usage(lookup("report"))
    if ctx.role != "admin":
        foreign = [c for c in codes if c not in ctx.person.provinces]
        if foreign:
            return ctx.reply(ctx.t("report_not_yours",
                                   names=", ".join(province_name(c) for c in foreign)))
    from delivery.report import build_report  # TODO(lead): move up once delivery/report.py lands

    end = ctx.app.clock()
    built = await build_report(ctx.app, codes, end - timedelta(days=days), end, ctx.lang)
    result = ctx.reply(*built.parts)
    if built.chart_png:
        result.messages.append(OutMessage(text=built.caption, photo=built.chart_png))
    return result


COMMANDS = {"report": report}
