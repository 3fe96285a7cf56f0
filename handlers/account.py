"""/help, /lang, /id and /stop."""

from __future__ import annotations

from handlers import args, confirm
from handlers.callbacks import Callback, encode
from handlers.commands import allowed, commands
from handlers.context import Ctx
from handlers.types import Result
from model.channel import Button
from render.markup import escape
from services import chats


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
    return ctx.reply(*blocks)


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
