"""/help, /lang, /id and /stop."""

from __future__ import annotations

from handlers import args, confirm
from handlers.callbacks import Callback, encode
from handlers.commands import allowed, commands
from handlers.context import Ctx
from handlers.types import Result
from model.channel import Button
from render.links import feed_path, public_url
from render.markup import Html, escape
from services import chats, subscriptions


async def help_(ctx: Ctx, text: str) -> Result:
    blocks: list[str] = [ctx.t("help_intro")]
    for role in ("citizen", "official", "admin"):
        mine = [c for c in commands().values() if c.role == role and allowed(c, ctx.role)]
        if mine:
            lines = "\n".join(
                f"{escape(c.usage_line(ctx.lang))}\n  <i>{escape(c.describe(ctx.lang))}</i>"
                for c in mine)
            blocks.append(ctx.t(f"help_{role}") + "\n" + lines)
    blocks.append(ctx.t("help_typing"))
    feeds = await _feeds(ctx)
    if feeds:
        blocks.append(ctx.t("help_feeds", feeds=Html("\n".join(map(escape, feeds)))))
    return ctx.reply(*blocks)


MAX_FEEDS = 6  # /help stays short; the province pages link every other feed


async def _feeds(ctx: Ctx) -> list[str]:
    """The Atom feeds of the chat's subscriptions (a province, a topic or both; a subscription
    to several gives one per pair), when PUBLIC_BASE_URL is set."""
    if not ctx.app.settings.public_base_url:
        return []
    urls: list[str] = []
    for sub in await subscriptions.list_subscriptions(ctx.app, ctx.chat.id):
        pairs = [(p, t) for p in sub.provinces or (None,) for t in sub.topics or (None,)]
        for province, topic in pairs:
            url = public_url(ctx.app.settings, feed_path(province, topic)) if province or topic \
                else None
            if url and url not in urls:
                urls.append(url)
    return urls[:MAX_FEEDS]


async def _set_lang(ctx: Ctx, lang: str, *, edit: bool = False) -> Result:
    ctx.require_chat_admin()
    await chats.set_lang(ctx.app, ctx.chat.id, lang)
    ctx.chat.lang = lang
    return ctx.reply(ctx.t("lang_done"), edit=edit)


async def lang(ctx: Ctx, text: str) -> Result:
    if not text:
        buttons = [[Button("Tiếng Việt", encode("lg", "vi")),
                    Button("English", encode("lg", "en"))]]
        usage = ctx.t("usage", usage=commands()["lang"].usage_line(ctx.lang))
        return ctx.reply(ctx.t("lang_choose"), usage, buttons=buttons)
    chosen = args.lookup(text, "langs")
    if chosen is None:
        return ctx.usage("lang")
    return await _set_lang(ctx, chosen)


async def on_lang_button(ctx: Ctx, cb: Callback) -> Result:
    return await _set_lang(ctx, cb.args[0], edit=True)


async def id_(ctx: Ctx, text: str) -> Result:
    """The person's channel-qualified id, as ADMIN_IDS and /grant take it."""
    return ctx.reply(ctx.t("id_yours", id=ctx.actor))


async def stop(ctx: Ctx, text: str) -> Result:
    ctx.require_chat_admin()
    question = ctx.t("stop_ask" if ctx.private else "stop_ask_group")
    return await confirm.ask(ctx, "stop", question)


COMMANDS = {"help": help_, "lang": lang, "id": id_, "stop": stop}
BUTTONS = {"lg": on_lang_button}
