"""/sub, /unsub, /list, /digest, /pause, /resume, /edit, and the buttons under their replies."""

from __future__ import annotations

from typing import TypedDict

from catalog import province_name
from classify.evidence import EvidenceKind
from classify.query import ParsedPhrase, parse_phrase
from handlers import args, picker
from handlers.callbacks import Callback, encode
from handlers.context import Ctx
from handlers.describe import delivery_text, provinces_text, sub_line, sub_text
from handlers.types import Result
from model.channel import Button
from model.enums import SubscriptionKind, SubscriptionMode
from services import subscriptions
from services.subscriptions import Cadence, SubInfo
from vntext import fold


class _Parts(TypedDict):
    topics: list[str]
    provinces: list[str]
    keywords: str


def _parts(parsed: ParsedPhrase) -> _Parts | None:
    """What a phrase asks for: topics, provinces and leftover keywords. None if nothing."""
    if not (parsed.topics or parsed.provinces or subscriptions.fold_keywords(parsed.keywords)):
        return None
    return {"topics": parsed.topics, "provinces": parsed.provinces, "keywords": parsed.keywords}


def _renamed(parsed: ParsedPhrase) -> str:
    """Names that were read as another province: "Thái Bình → Hưng Yên" (merged in 2025)."""
    pairs = [(e.text, province_name(e.label)) for e in parsed.evidence
             if e.kind == EvidenceKind.PROVINCE and fold(e.text) != fold(province_name(e.label))]
    return ", ".join(f"“{typed}” → {name}" for typed, name in pairs)


def _regions(ctx: Ctx, parsed: ParsedPhrase) -> list[str]:
    """One line per region typed, naming the current provinces it stands for."""
    return [ctx.t("sub_region", typed=typed, count=len(region.provinces),
                  names=provinces_text(region.provinces)) for typed, region in parsed.regions]


def _fix_buttons(ctx: Ctx, sub: SubInfo) -> list[list[Button]]:
    rows = [[Button(ctx.t("btn_fix_provinces"), encode("sf", sub.id, "p")),
             Button(ctx.t("btn_fix_topics"), encode("sf", sub.id, "t"))]]
    if sub.keywords:
        rows.append([Button(ctx.t("btn_fix_keywords"), encode("sf", sub.id, "k"))])
    rows.append([Button(ctx.t("btn_delivery"), encode("ls", "dl", sub.id)),
                 Button(ctx.t("btn_undo"), encode("sf", sub.id, "rm"))])
    return rows


async def sub(ctx: Ctx, text: str) -> Result:
    parsed = parse_phrase(text)
    parts = _parts(parsed)
    if parts is None:
        return ctx.usage("sub")
    ctx.require_chat_admin()
    new = await subscriptions.subscribe(ctx.app, ctx.chat.id, label=text, **parts)
    hint = ctx.t("sub_fix_hint") if ctx.buttons else ctx.t("sub_fix_typed", number=new.number)
    renamed = _renamed(parsed)
    return ctx.reply(ctx.t("sub_done", number=new.number, what=sub_text(ctx.lang, new),
                           delivery=delivery_text(ctx.lang, new.delivery)),
                     ctx.t("sub_read_as", pairs=renamed) if renamed else "",
                     *_regions(ctx, parsed), hint,
                     buttons=_fix_buttons(ctx, new))


async def edit(ctx: Ctx, text: str) -> Result:
    number, rest = args.split_number(text)
    parsed = parse_phrase(rest)
    parts = _parts(parsed) if number is not None else None
    if parts is None:
        return ctx.usage("edit")
    ctx.require_chat_admin()
    target = await subscriptions.find(ctx.app, ctx.chat.id, number=number)
    changed = await subscriptions.update_subscription(ctx.app, ctx.chat.id, target.id,
                                                      person=ctx.person, label=rest,
                                                      **parts)
    return ctx.reply(ctx.t("sub_changed", number=changed.number, what=sub_text(ctx.lang, changed)),
                     *_regions(ctx, parsed))


def _list_view(ctx: Ctx, subs: list[SubInfo]) -> tuple[list[str], list[list[Button]]]:
    if not subs:
        return [ctx.t("list_empty")], []
    lines = "\n".join(sub_line(ctx.lang, s) for s in subs)
    rows = [[Button(ctx.t("btn_resume" if s.paused else "btn_pause", number=s.number),
                    encode("ls", "re" if s.paused else "pa", s.id)),
             Button(ctx.t("btn_delivery_n", number=s.number), encode("ls", "dl", s.id)),
             Button(ctx.t("btn_remove_n", number=s.number), encode("ls", "rm", s.id))]
            for s in subs]
    hint = ctx.t("list_hint") if ctx.buttons else ctx.t("list_typed_hint")
    return [ctx.t("list_title", count=len(subs)) + "\n" + lines, hint], rows


async def list_(ctx: Ctx, text: str) -> Result:
    blocks, rows = _list_view(ctx, await subscriptions.list_subscriptions(ctx.app, ctx.chat.id))
    return ctx.reply(*blocks, buttons=rows)


async def unsub(ctx: Ctx, text: str) -> Result:
    if not text:
        return await list_(ctx, "")
    ctx.require_chat_admin()
    if args.is_word(text, "all"):
        removed = [await subscriptions.unsubscribe(ctx.app, ctx.chat.id, s.id)
                   for s in await subscriptions.list_subscriptions(ctx.app, ctx.chat.id)
                   if s.kind == SubscriptionKind.NEWS]
        return ctx.reply(ctx.t("unsub_all_done", count=len(removed)))
    number, rest = args.split_number(text)
    if number is None or rest:
        return ctx.usage("unsub")
    gone = await subscriptions.find(ctx.app, ctx.chat.id, number=number)
    await subscriptions.unsubscribe(ctx.app, ctx.chat.id, gone.id)
    return ctx.reply(ctx.t("unsub_done", number=gone.number, what=sub_text(ctx.lang, gone)))


async def _pause(ctx: Ctx, text: str, paused: bool) -> Result:
    number, rest = args.split_number(text)
    if number is None or rest:
        return ctx.usage("pause" if paused else "resume")
    ctx.require_chat_admin()
    target = await subscriptions.find(ctx.app, ctx.chat.id, number=number)
    await subscriptions.set_paused(ctx.app, ctx.chat.id, target.id, paused)
    return ctx.reply(ctx.t("paused_done" if paused else "resumed_done", number=number))


async def pause(ctx: Ctx, text: str) -> Result:
    return await _pause(ctx, text, True)


async def resume(ctx: Ctx, text: str) -> Result:
    return await _pause(ctx, text, False)


def _delivery_menu(ctx: Ctx, target: str, number: int | None) -> Result:
    head = ctx.t("digest_choose_one", number=number) if number else ctx.t("digest_choose_all")
    typed = ctx.t("digest_typed_one", number=number) if number else ctx.t("digest_typed_all")
    return ctx.reply(head, typed, buttons=picker.mode_rows(
        ctx, lambda mode: encode("dl", target, mode, "-", "-")))


async def _apply(ctx: Ctx, delivery: Cadence, sub_id: int | None, *, edit: bool = False) -> Result:
    ctx.require_chat_admin()
    count = await subscriptions.set_delivery(ctx.app, ctx.chat.id, delivery, sub_id)
    what = delivery_text(ctx.lang, delivery)
    if sub_id is None:
        return ctx.reply(ctx.t("digest_done_all", delivery=what, count=count), edit=edit)
    target = await subscriptions.find(ctx.app, ctx.chat.id, sub_id=sub_id)
    return ctx.reply(ctx.t("digest_done_one", number=target.number, delivery=what), edit=edit)


async def digest(ctx: Ctx, text: str) -> Result:
    number, rest = args.split_number(text)
    target = await subscriptions.find(ctx.app, ctx.chat.id, number=number) if number else None
    if not rest:
        return _delivery_menu(ctx, str(target.id) if target else "all",
                              target.number if target else None)
    delivery = args.parse_delivery(rest)
    if delivery is None:
        return ctx.usage("digest")
    return await _apply(ctx, delivery, target.id if target else None)


# --- Buttons --------------------------------------------------------------------------------


async def on_list_button(ctx: Ctx, cb: Callback) -> Result:
    op, sub_id = cb.args[0], int(cb.args[1])
    ctx.require_chat_admin()
    target = await subscriptions.find(ctx.app, ctx.chat.id, sub_id=sub_id)
    if op == "dl":
        return _delivery_menu(ctx, str(target.id), target.number)
    if op == "rm":
        await subscriptions.unsubscribe(ctx.app, ctx.chat.id, sub_id)
        answer = ctx.t("unsub_done", number=target.number, what=sub_text(ctx.lang, target))
    else:
        await subscriptions.set_paused(ctx.app, ctx.chat.id, sub_id, op == "pa")
        answer = ctx.t("paused_done" if op == "pa" else "resumed_done", number=target.number)
    blocks, rows = _list_view(ctx, await subscriptions.list_subscriptions(ctx.app, ctx.chat.id))
    return ctx.reply(*blocks, buttons=rows, edit=True, answer=answer)


async def on_delivery_button(ctx: Ctx, cb: Callback) -> Result:
    target, mode, hour, weekday = cb.args
    sub_id = None if target == "all" else int(target)
    if sub_id is not None:
        await subscriptions.find(ctx.app, ctx.chat.id, sub_id=sub_id)  # stale if it is gone
    if mode == SubscriptionMode.WEEKLY and weekday == "-":
        return ctx.reply(ctx.t("pick_weekday"), buttons=picker.weekday_rows(
            ctx, lambda d: encode("dl", target, mode, "-", d)), edit=True)
    if mode in ("daily", "weekly") and hour == "-":
        return ctx.reply(ctx.t("pick_hour"), buttons=picker.hour_rows(
            lambda h: encode("dl", target, mode, h, weekday)), edit=True)
    if hour != "-" and int(hour) > 23:
        return picker.stale(ctx)
    delivery = Cadence(mode, args.DEFAULT_HOUR if hour == "-" else int(hour),
                        0 if weekday == "-" else int(weekday))
    return await _apply(ctx, delivery, sub_id, edit=True)


async def on_fix_button(ctx: Ctx, cb: Callback) -> Result:
    sub_id, op = int(cb.args[0]), cb.args[1]
    ctx.require_chat_admin()
    target = await subscriptions.find(ctx.app, ctx.chat.id, sub_id=sub_id)
    if op == "rm":
        await subscriptions.unsubscribe(ctx.app, ctx.chat.id, sub_id)
        return ctx.reply(ctx.t("unsub_done", number=target.number, what=sub_text(ctx.lang, target)),
                         edit=True)
    if op == "k":
        changed = await subscriptions.update_subscription(ctx.app, ctx.chat.id, sub_id,
                                                          person=ctx.person, keywords="")
        return ctx.reply(ctx.t("sub_changed", number=changed.number,
                               what=sub_text(ctx.lang, changed)),
                         buttons=_fix_buttons(ctx, changed), edit=True)
    step = "provinces" if op == "p" else "topics"
    picker.begin(ctx, "edit", step, provinces=target.provinces, topics=target.topics, sub_id=sub_id)
    await ctx.save_dialog()
    return picker.show(ctx)


COMMANDS = {"sub": sub, "edit": edit, "list": list_, "unsub": unsub, "pause": pause,
            "resume": resume, "digest": digest}
BUTTONS = {"ls": on_list_button, "dl": on_delivery_button, "sf": on_fix_button}
