"""/start: a welcome, then provinces → topics → delivery. Deep links preselect a province
(`p33`) or a topic (`t-nha-dai-doan-ket`)."""

from __future__ import annotations

import catalog
from handlers import picker
from handlers.context import Ctx
from handlers.types import Result


def _deep_link(payload: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(provinces, topics) named by a /start payload; anything else preselects nothing."""
    payload = payload.strip().lower()
    if payload.startswith("p") and payload[1:] in catalog.provinces():
        return (payload[1:],), ()
    if payload.startswith("t-") and payload[2:] in catalog.topics():
        return (), (payload[2:],)
    return (), ()


async def start(ctx: Ctx, text: str) -> Result:
    ctx.require_chat_admin()
    provinces, topics = _deep_link(text)
    picker.begin(ctx, "onboard", "provinces", provinces=provinces, topics=topics)
    await ctx.save_dialog()
    welcome = ctx.t("welcome_group" if not ctx.private else "welcome")
    return picker.show(ctx, welcome)


COMMANDS = {"start": start}
