"""Actions that need a second "yes": /stop (delete everything) and /broadcast. The pending action
is kept in the chat's dialogue with a nonce and the person who asked; only that person can confirm
it, by button or by typing /confirm (or cancel it with /cancel)."""

from __future__ import annotations

from typing import Any

from handlers.callbacks import Callback, encode
from handlers.context import Ctx, new_nonce
from handlers.picker import stale
from handlers.types import Result
from model.channel import Button
from services import admin, chats
from services.errors import Refusal, ServiceError


async def ask(ctx: Ctx, what: str, *blocks: str, **data: Any) -> Result:
    nonce = new_nonce()
    ctx.dialog["confirm"] = {"n": nonce, "what": what, "by": ctx.msg.user_key, **data}
    await ctx.save_dialog()
    buttons = [[Button(ctx.t(f"btn_confirm_{what}"), encode("cf", nonce, "y")),
                Button(ctx.t("btn_cancel"), encode("cf", nonce, "n"))]]
    hint = "" if ctx.buttons else ctx.t("confirm_typed")
    return ctx.reply(*blocks, hint, buttons=buttons)


async def _forget(ctx: Ctx, pending: dict[str, Any]) -> Result:
    ctx.require_chat_admin()
    await chats.forget_chat(ctx.app, ctx.chat.id, ctx.person.id if ctx.private else None)
    ctx.dialog.clear()  # the chat row is gone; nothing is left to save
    return ctx.reply(ctx.t("stop_done"), edit=True)


async def _broadcast(ctx: Ctx, pending: dict[str, Any]) -> Result:
    if ctx.role != "admin":
        raise ServiceError(Refusal.ADMIN_ONLY, "no longer an admin")
    count = await admin.send_broadcast(ctx.app, ctx.actor, pending["html"], pending["province"],
                                       broadcast_id=pending["n"])
    await ctx.save_dialog()
    return ctx.reply(ctx.t("broadcast_queued", count=count), edit=True)


_ACTIONS = {"stop": _forget, "broadcast": _broadcast}


async def _resolve(ctx: Ctx, yes: bool, nonce: str | None) -> Result:
    pending = ctx.dialog.get("confirm")
    if not pending or pending["by"] != ctx.msg.user_key or nonce not in (None, pending["n"]):
        if ctx.msg.callback_data:
            return stale(ctx)
        return ctx.reply(ctx.t("confirm_nothing"))
    ctx.dialog.pop("confirm")
    if not yes:
        await ctx.save_dialog()
        return ctx.reply(ctx.t("confirm_cancelled"), edit=True)
    return await _ACTIONS[pending["what"]](ctx, pending)


async def on_button(ctx: Ctx, cb: Callback) -> Result:
    return await _resolve(ctx, cb.args[1] == "y", cb.args[0])


async def confirm_command(ctx: Ctx, text: str) -> Result:
    return await _resolve(ctx, True, None)


async def cancel_command(ctx: Ctx, text: str) -> Result:
    """Cancels a pending confirmation, or else an open picking dialogue or file wait."""
    if "confirm" in ctx.dialog:
        return await _resolve(ctx, False, None)
    if ctx.dialog.pop("pick", None) is not None or ctx.dialog.pop("await", None) is not None:
        await ctx.save_dialog()
        return ctx.reply(ctx.t("pick_cancelled"))
    return ctx.reply(ctx.t("confirm_nothing"))


COMMANDS = {"confirm": confirm_command, "cancel": cancel_command}
BUTTONS = {"cf": on_button}
