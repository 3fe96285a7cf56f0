"""/report [province] [period]: an official's province report on demand (their provinces only;
admins may ask for any)."""

from __future__ import annotations

from datetime import timedelta

from delivery.report import build_report
from handlers import args
from handlers.context import Ctx
from handlers.types import Result
from model.channel import OutMessage
from services import subscriptions

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
        return ctx.usage("report")
    subscriptions.check_allowed(ctx.person, "report", codes)
    end = ctx.app.clock()
    built = await build_report(ctx.app, codes, end - timedelta(days=days), end, ctx.lang,
                               limit=ctx.max_units)
    messages = [OutMessage(text=part) for part in built.parts]  # already split at items
    if built.png:
        messages.append(OutMessage(text=built.caption, photo=built.png))
    return Result(messages=messages)


COMMANDS = {"report": report}
