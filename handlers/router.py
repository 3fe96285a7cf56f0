"""The one entry point from every channel adapter: `dispatch(app, Incoming) -> Result`.

It finds the chat and the person, routes a command, a button or typed dialogue text to its
handler, and turns every failure into a polite reply: bad input
(`ServiceError`) gets its one line (admins also get the reason), anything else is logged with its
context and answered with an apology. It never raises to the adapter.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from handlers import account, admin, confirm, items, official, onboarding, picker, subs
from handlers.callbacks import BadCallback, decode
from handlers.commands import Command, allowed, lookup
from handlers.context import Ctx
from handlers.describe import refusal_text
from handlers.types import Incoming, Result
from model.channel import OutMessage
from render.texts import DEFAULT_LANG, t
from runtime import App
from services import audit, limits, users
from services.errors import Refusal, ServiceError

log = logging.getLogger(__name__)

CommandHandler = Callable[[Ctx, str], Awaitable[Result]]
COMMANDS: dict[str, CommandHandler] = {
    **onboarding.COMMANDS, **subs.COMMANDS, **items.COMMANDS, **account.COMMANDS,
    **confirm.COMMANDS, **official.COMMANDS, **admin.COMMANDS,
}
BUTTONS = {"pk": picker.on_button, **subs.BUTTONS, **items.BUTTONS, **account.BUTTONS,
           **confirm.BUTTONS}

# "/search@LoaBot lao cai" → ("search", "lao cai"); "/why_12" → ("why_12", "")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@\w+)?(?:\s+(.*))?$", re.S)


def _parse_command(text: str) -> tuple[Command | None, str, str]:
    """(command, its arguments, the word typed); the command is None if unknown."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None, "", text.strip().split()[0] if text.strip() else ""
    word, rest = match.group(1).lower(), (match.group(2) or "").strip()
    command = lookup(word)
    if command is None and "_" in word:  # "/why_12", a tappable form of "/why 12"
        head, _, arg = word.partition("_")
        command, rest = lookup(head), f"{arg} {rest}".strip()
    return command, rest, word


async def _on_command(ctx: Ctx) -> Result:
    command, rest, word = _parse_command(ctx.msg.text)
    if command is None:
        return ctx.reply(ctx.t("unknown_command", command=f"/{word}"))
    if not allowed(command, ctx.role):
        if command.role == "admin":
            await audit.record_now(ctx.app, ctx.actor, f"/{command.name}", rest[:200],
                                   allowed=False, chat=f"{ctx.msg.channel}:{ctx.msg.chat_key}")
            log.warning("refused /%s to %s (role %s)", command.name, ctx.actor, ctx.role)
            return ctx.reply(ctx.t("admin_only"))
        return ctx.reply(ctx.t("official_only"))
    if command.role == "admin":
        # Every admin action is logged, read-only ones included; services log their effects.
        await audit.record_now(ctx.app, ctx.actor, f"/{command.name}", rest[:200],
                               chat=f"{ctx.msg.channel}:{ctx.msg.chat_key}")
    return await COMMANDS[command.name](ctx, rest)


async def _on_button(ctx: Ctx) -> Result:
    try:
        cb = decode(ctx.msg.callback_data)
    except BadCallback as exc:
        log.warning("bad button data %r from %s: %s", ctx.msg.callback_data, ctx.actor, exc)
        return Result(button_answer=ctx.t("button_invalid"))
    return await BUTTONS[cb.action](ctx, cb)


async def _route(ctx: Ctx) -> Result:
    msg = ctx.msg
    limits.check_text(msg.text, limits.MAX_MESSAGE_CHARS)  # typed text, before any handler
    if msg.callback_data is not None:
        return await _on_button(ctx)
    if msg.text.strip().startswith("/"):
        return await _on_command(ctx)
    if msg.document is not None:
        return await admin.on_document(ctx)
    if picker.active(ctx) and msg.text.strip() and (ctx.private or msg.sender_is_chat_admin):
        return await picker.on_text(ctx)  # in a group, only its admins answer the set-up
    if ctx.private and msg.text.strip():
        return ctx.reply(ctx.t("plain_text_hint"))
    return Result()  # chatter in a group is not for us


async def _context(app: App, msg: Incoming) -> Ctx:
    if not (limits.platform_key_ok(msg.user_key) and limits.platform_key_ok(msg.chat_key)):
        raise ServiceError(Refusal.BAD_SENDER,
                           f"malformed ids: chat '{limits.shown(msg.chat_key)}',"
                           f" user '{limits.shown(msg.user_key)}'")
    chat, person = await users.ensure_sender(app, msg.channel, msg.chat_key, msg.chat_kind,
                                             msg.chat_title, msg.user_key, msg.user_name)
    return Ctx(app, msg, chat, person, dict(chat.dialog or {}))


def _say(msg: Incoming, text: str) -> Result:
    """A pressed button gets the line as its answer; a message gets it as a reply."""
    if msg.callback_data is not None:
        return Result(button_answer=text)
    return Result(messages=[OutMessage(text=text)])


async def dispatch(app: App, msg: Incoming) -> Result:
    ctx: Ctx | None = None
    try:
        ctx = await _context(app, msg)
        return await _route(ctx)
    except ServiceError as exc:
        # The catalogue's line, in the person's language, for admins too: the English reason
        # is for the logs (and the CLI).
        text = refusal_text(ctx.lang if ctx else DEFAULT_LANG, exc)
        log.info("refused %r from %s:%s: %s", msg.text[:200] or msg.callback_data, msg.channel,
                 limits.shown(msg.user_key, limits.MAX_KEY_CHARS), exc.reason)
        return _say(msg, text)
    except Exception:
        log.exception("handler failed: channel=%s chat=%s user=%s text=%r button=%r",
                      msg.channel, msg.chat_key, msg.user_key, msg.text[:200], msg.callback_data)
        return _say(msg, t(DEFAULT_LANG, "error_internal"))
