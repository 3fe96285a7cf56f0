"""/search, /latest and /why: finding items and explaining them."""

from __future__ import annotations

import re

from classify.evidence import Evidence
from handlers import args
from handlers.callbacks import Callback, encode
from handlers.context import Ctx, new_nonce
from handlers.describe import item_blocks, provinces_text, sub_text, topics_text
from handlers.picker import stale
from handlers.types import Result
from model.channel import Button
from render.compose import render_item
from render.links import page_line, page_path
from render.markup import Html
from services import explain
from services import search as search_service
from services.search import SearchPage

RECENT_SEARCHES = 5  # pages of the last few searches stay reachable from their buttons


def _filters(ctx: Ctx, found: SearchPage) -> str:
    parts = []
    if found.provinces:
        parts.append(provinces_text(found.provinces))
    if found.topics:
        parts.append(topics_text(found.topics, ctx.lang))
    return ctx.t("search_filters", filters=" · ".join(parts)) if parts else ""


def _results(ctx: Ctx, query: str, found: SearchPage, nonce: str, *, edit: bool = False) -> Result:
    if not found.items:
        return ctx.reply(ctx.t("search_none", query=query), _filters(ctx, found))
    total = ctx.t("search_total_more") if found.more else found.total  # more than CAP
    head = ctx.t("search_head", query=query, total=total, page=found.page, pages=found.pages)
    first = (found.page - 1) * search_service.PER_PAGE + 1
    blocks = [head, _filters(ctx, found),
              *item_blocks(found.items, lang=ctx.lang, tz=ctx.app.settings.tz,
                           why=lambda i: ctx.cmd("why", i), first=first)]
    nav = []
    if found.page > 1:
        nav.append(Button(ctx.t("btn_prev"), encode("sr", nonce, found.page - 1)))
    if found.page < found.pages:
        nav.append(Button(ctx.t("btn_more"), encode("sr", nonce, found.page + 1)))
    if found.pages > 1 and not ctx.buttons:
        # Typed paging for channels without buttons: the next page, or back from the last one.
        if found.page < found.pages:
            blocks.append(ctx.t("search_typed_next", query=query, page=found.page + 1))
        else:
            blocks.append(ctx.t("search_typed_prev", query=query, page=found.page - 1))
    web = page_line(ctx.app.settings, ctx.lang, _search_page(query, found))
    if web:
        blocks.append(web)
    return ctx.reply(*blocks, buttons=[nav] if nav else None, edit=edit)


def _search_page(query: str, found: SearchPage) -> str:
    """The web page of the same search: in its province (the web searches one province at a
    time), else its topic's page, else the home page."""
    topic = found.topics[0] if len(found.topics) == 1 else None
    if found.provinces:
        return page_path(found.provinces[0], topic, query)
    return page_path(None, topic)


async def search(ctx: Ctx, text: str) -> Result:
    query, page = args.split_page(text)
    if not query or not re.search(r"\w", query):
        return ctx.usage("search")
    found = await search_service.search(ctx.app, query, page)
    nonce = new_nonce()
    recent = [s for s in ctx.dialog.get("searches", []) if s["q"] != query]
    ctx.dialog["searches"] = [{"n": nonce, "q": query}, *recent][:RECENT_SEARCHES]
    await ctx.save_dialog()
    return _results(ctx, query, found, nonce)


async def on_page_button(ctx: Ctx, cb: Callback) -> Result:
    nonce, page = cb.args
    saved = next((s for s in ctx.dialog.get("searches", []) if s["n"] == nonce), None)
    if saved is None:
        return stale(ctx)
    found = await search_service.search(ctx.app, saved["q"], int(page))
    return _results(ctx, saved["q"], found, nonce, edit=True)


async def latest(ctx: Ctx, text: str) -> Result:
    found = await search_service.latest(ctx.app, text)
    if not found.items:
        return ctx.reply(ctx.t("latest_none"), _filters(ctx, found))
    return ctx.reply(ctx.t("latest_head"), _filters(ctx, found),
                     *item_blocks(found.items, lang=ctx.lang, tz=ctx.app.settings.tz,
                                  why=lambda i: ctx.cmd("why", i)))


def _evidence(entries: list[Evidence]) -> str:
    shown = [e.resolved or (f"“{e.text}”" if e.text else "") for e in entries]
    return "; ".join(s for s in dict.fromkeys(shown) if s)


def _score(ctx: Ctx, label: explain.Label) -> Html:
    percent = round(label.score * 100)
    return ctx.t("why_score" if label.instant else "why_score_low", percent=percent)


async def why(ctx: Ctx, text: str) -> Result:
    match = re.fullmatch(r"\s*#?(\d{1,12})\s*", text)
    if not match:
        return ctx.usage("why")
    found = await explain.explain(ctx.app, ctx.chat.id, int(match.group(1)))
    blocks = [render_item(found.item, lang=ctx.lang, tz=ctx.app.settings.tz)]
    lines = [ctx.t("why_province", name=provinces_text([p.label]), score=_score(ctx, p),
                   evidence=_evidence(p.evidence)) for p in found.provinces]
    lines += [ctx.t("why_topic", name=topics_text([t.label], ctx.lang), score=_score(ctx, t),
                    evidence=_evidence(t.evidence)) for t in found.topics]
    blocks.append(Html("\n".join(lines)) if lines else ctx.t("why_no_labels"))
    if found.sent_for:
        blocks.append(ctx.t("why_sent_for", number=found.sent_for.number,
                            what=sub_text(ctx.lang, found.sent_for)))
    elif found.matches:
        blocks.append(ctx.t("why_matches", subs=Html("; ".join(
            f"{s.number}. {sub_text(ctx.lang, s)}" for s in found.matches))))
    else:
        blocks.append(ctx.t("why_no_match"))
    return ctx.reply(*blocks)


COMMANDS = {"search": search, "latest": latest, "why": why}
BUTTONS = {"sr": on_page_button}
