"""Choosing provinces, then topics, then delivery, one step at a time: by buttons where the channel
has them, by typing everywhere. Used by onboarding (/start: all three steps, then a new
subscription) and by the fix buttons under /sub (one step, then that subscription changes).

The state (`PickState`) lives in the chat's `dialog["pick"]`; its nonce is in every button, so a
button from an earlier dialogue, or from an earlier step, is stale and answered as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import catalog
from classify.query import parse_phrase, search_provinces
from handlers import args
from handlers.callbacks import Callback, encode
from handlers.context import Ctx, new_nonce
from handlers.describe import delivery_text, provinces_text, sub_text, topics_text
from handlers.types import Result
from model.channel import Button, OutMessage
from model.enums import SubscriptionMode
from render.markup import Html
from services import subscriptions
from services.errors import ServiceError
from services.subscriptions import Cadence
from vntext import fold, utf16_len

PAGE_SIZE = 12  # provinces per keyboard page: 34 fit in three pages
HOURS = (5, 6, 7, 8, 9, 11, 12, 17, 18, 19, 20, 21)
ONBOARD_STEPS = ("provinces", "topics", "delivery")
_OPS = {"provinces": {"p", "pg", "ok", "all", "x"}, "topics": {"t", "ok", "all", "x"},
        "delivery": {"m", "x"}, "weekday": {"w", "x"}, "hour": {"h", "x"}}
_NUMBER = re.compile(r"(?<!\w)\d{1,2}(?!\w)")


# --- Keyboards shared with /digest and /list -----------------------------------------------


def mode_rows(ctx: Ctx, make: Callable[[str], str]) -> list[list[Button]]:
    label: dict[str, Html] = {m: ctx.t(f"btn_mode_{m}") for m in subscriptions.MODES}
    return [[Button(label["instant"], make("instant")), Button(label["daily"], make("daily"))],
            [Button(label["weekly"], make("weekly")), Button(label["off"], make("off"))]]


def hour_rows(make: Callable[[int], str]) -> list[list[Button]]:
    buttons = [Button(f"{h}:00", make(h)) for h in HOURS]
    return [buttons[i:i + 4] for i in range(0, len(buttons), 4)]


def weekday_rows(ctx: Ctx, make: Callable[[int], str]) -> list[list[Button]]:
    buttons = [Button(ctx.t(f"weekday_short_{d}"), make(d)) for d in range(7)]
    return [buttons[:4], buttons[4:]]


# --- The dialogue ----------------------------------------------------------------------------


@dataclass
class PickState:
    """One picking dialogue, kept between messages as JSON in the chat's dialog."""

    nonce: str  # in every button of this dialogue
    flow: str  # "onboard" or "edit"
    step: str  # provinces | topics | delivery | weekday | hour
    provinces: list[str]
    topics: list[str]
    page: int = 0  # of the provinces keyboard
    sub_id: int | None = None  # the subscription an "edit" changes
    mode: SubscriptionMode | None = None  # the digest mode chosen, once it is
    weekday: int | None = None  # the weekly digest's day chosen, once it is

    def chosen(self) -> list[str]:
        """What this step picks: the provinces, or the topics."""
        return self.provinces if self.step == "provinces" else self.topics

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"n": self.nonce, "flow": self.flow, "step": self.step,
                                "provinces": self.provinces, "topics": self.topics,
                                "page": self.page, "sub": self.sub_id}
        if self.mode is not None:
            data["mode"] = self.mode
        if self.weekday is not None:
            data["weekday"] = self.weekday
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PickState:
        return cls(nonce=data["n"], flow=data["flow"], step=data["step"],
                   provinces=list(data["provinces"]), topics=list(data["topics"]),
                   page=data.get("page", 0), sub_id=data.get("sub"),
                   mode=SubscriptionMode(data["mode"]) if "mode" in data else None,
                   weekday=data.get("weekday"))


def begin(ctx: Ctx, flow: str, step: str, *, provinces: tuple[str, ...] = (),
          topics: tuple[str, ...] = (), sub_id: int | None = None) -> None:
    """Start a picking dialogue (flow "onboard" or "edit") at `step`; replaces any earlier one."""
    chosen = sorted(set(provinces))
    # Open the keyboard on the page that shows the first chosen province.
    page = list(catalog.provinces()).index(chosen[0]) // PAGE_SIZE if chosen else 0
    ctx.dialog["pick"] = PickState(new_nonce(), flow, step, chosen, list(dict.fromkeys(topics)),
                                   page, sub_id).to_json()


def active(ctx: Ctx) -> bool:
    return "pick" in ctx.dialog


def _state(ctx: Ctx) -> PickState:
    return PickState.from_json(ctx.dialog["pick"])


async def _save(ctx: Ctx, state: PickState) -> None:
    ctx.dialog["pick"] = state.to_json()
    await ctx.save_dialog()


def _data(state: PickState, op: str, value: object = "") -> str:
    return encode("pk", state.nonce, op, value)


def _heading(ctx: Ctx, state: PickState, key: str) -> str:
    if state.flow == "onboard":
        step = state.step if state.step in ONBOARD_STEPS else "delivery"  # hour, weekday
        return ctx.t("pick_step", n=ONBOARD_STEPS.index(step) + 1, total=len(ONBOARD_STEPS),
                     title=ctx.t(key))
    return ctx.t(key)


def _provinces_view(ctx: Ctx, state: PickState) -> tuple[list[str], list[list[Button]]]:
    chosen = state.provinces
    blocks = [_heading(ctx, state, "pick_provinces"),
              ctx.t("pick_chosen", names=provinces_text(chosen)) if chosen
              else ctx.t("pick_chosen_none_provinces")]
    if not ctx.buttons:
        listing = " · ".join(f"{p.code} {p.name}" for p in catalog.provinces().values())
        return blocks + [ctx.t("pick_provinces_list", listing=listing),
                         ctx.t("pick_provinces_typed")], []
    codes = list(catalog.provinces())
    pages = (len(codes) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(state.page, 0), pages - 1)
    shown = codes[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
    cells = [Button(("✓ " if c in chosen else "") + catalog.province_name(c), _data(state, "p", c))
             for c in shown]
    rows = [cells[i:i + 2] for i in range(0, len(cells), 2)]
    nav = []
    if page > 0:
        nav.append(Button(ctx.t("btn_prev_page", page=page, pages=pages),
                          _data(state, "pg", page - 1)))
    if page < pages - 1:
        nav.append(Button(ctx.t("btn_next_page", page=page + 2, pages=pages),
                          _data(state, "pg", page + 1)))
    rows += [nav] if nav else []
    rows.append([Button(ctx.t("btn_all_provinces"), _data(state, "all")),
                 Button(ctx.t("btn_next"), _data(state, "ok"))])
    return blocks + [ctx.t("pick_provinces_hint")], rows


def _topics_view(ctx: Ctx, state: PickState) -> tuple[list[str], list[list[Button]]]:
    chosen = state.topics
    blocks = [_heading(ctx, state, "pick_topics"),
              ctx.t("pick_chosen", names=topics_text(chosen, ctx.lang)) if chosen
              else ctx.t("pick_chosen_none_topics")]
    topics = list(catalog.topics())
    if not ctx.buttons:
        listing = "\n".join(f"{n}. {catalog.topic_name(s, ctx.lang)}"
                            for n, s in enumerate(topics, start=1))
        return blocks + [ctx.t("pick_topics_list", listing=listing), ctx.t("pick_topics_typed")], []
    rows = [[Button(("✓ " if s in chosen else "") + catalog.topic_name(s, ctx.lang),
                    _data(state, "t", s))] for s in topics]
    rows.append([Button(ctx.t("btn_all_topics"), _data(state, "all")),
                 Button(ctx.t("btn_next"), _data(state, "ok"))])
    return blocks + [ctx.t("pick_topics_hint")], rows


def _delivery_view(ctx: Ctx, state: PickState) -> tuple[list[str], list[list[Button]]]:
    step = state.step
    heading = _heading(ctx, state, f"pick_{step}")
    if not ctx.buttons:
        return [heading, ctx.t("pick_delivery_typed")], []
    if step == "weekday":
        return [heading], weekday_rows(ctx, lambda d: _data(state, "w", d))
    if step == "hour":
        return [heading], hour_rows(lambda h: _data(state, "h", h))
    return [heading, ctx.t("pick_delivery_hint")], mode_rows(ctx, lambda m: _data(state, "m", m))


def show(ctx: Ctx, note: str = "", *, edit: bool = False, answer: str | None = None) -> Result:
    state = _state(ctx)
    view = {"provinces": _provinces_view, "topics": _topics_view}.get(state.step, _delivery_view)
    blocks, rows = view(ctx, state)
    if rows:
        rows.append([Button(ctx.t("btn_cancel"), _data(state, "x"))])
    return ctx.reply(note, "\n".join(blocks), buttons=rows, edit=edit, answer=answer)


async def _advance(ctx: Ctx, state: PickState) -> Result:
    if state.flow == "edit":
        return await _finish_edit(ctx, state)
    state.step = {"provinces": "topics", "topics": "delivery"}[state.step]
    await _save(ctx, state)
    return show(ctx)


async def _finish_edit(ctx: Ctx, state: PickState) -> Result:
    ctx.dialog.pop("pick")
    await ctx.save_dialog()
    assert state.sub_id is not None  # begun by /sub's fix buttons, for one subscription
    if state.step == "provinces":
        sub = await subscriptions.update_subscription(ctx.app, ctx.chat.id, state.sub_id,
                                                      person=ctx.person, provinces=state.provinces)
    else:
        sub = await subscriptions.update_subscription(ctx.app, ctx.chat.id, state.sub_id,
                                                      person=ctx.person, topics=state.topics)
    return ctx.reply(ctx.t("sub_changed", number=sub.number, what=sub_text(ctx.lang, sub)))


async def _finish_onboard(ctx: Ctx, state: PickState, delivery: Cadence) -> Result:
    ctx.dialog.pop("pick")
    await ctx.save_dialog()
    await subscriptions.set_default_delivery(ctx.app, ctx.chat.id, delivery)
    try:
        sub = await subscriptions.subscribe(ctx.app, ctx.chat.id, topics=state.topics,
                                            provinces=state.provinces, delivery=delivery)
    except ServiceError as exc:
        if exc.code != "sub_exists":
            raise
        return ctx.reply(ctx.t("onboard_exists", number=exc.params["number"]))
    blocks = [ctx.t("onboard_done", what=sub_text(ctx.lang, sub),
                    delivery=delivery_text(ctx.lang, sub.delivery))]
    if sub.is_everything and delivery.mode == SubscriptionMode.INSTANT:
        blocks.append(ctx.t("onboard_everything_warning"))
    blocks.append(ctx.t("onboard_next"))
    return ctx.reply(*blocks)


async def _choose_delivery(ctx: Ctx, state: PickState, op: str, value: str) -> Result:
    if op == "m":
        if value in ("instant", "off"):
            return await _finish_onboard(ctx, state, Cadence(SubscriptionMode(value)))
        state.mode = SubscriptionMode(value)
        state.step = "hour" if value == "daily" else "weekday"
    elif op == "w":
        state.weekday, state.step = int(value), "hour"
    else:
        return await _finish_onboard(ctx, state, _cadence(state, int(value)))
    await _save(ctx, state)
    return show(ctx, edit=True)


def _cadence(state: PickState, hour: int) -> Cadence:
    """The digest chosen, once its hour is."""
    assert state.mode is not None  # the hour step comes after the mode's
    return Cadence(state.mode, hour, state.weekday or 0)


def stale(ctx: Ctx) -> Result:
    return Result(button_answer=ctx.t("button_stale"))


async def on_button(ctx: Ctx, cb: Callback) -> Result:
    nonce, op, value = cb.args
    state = _state(ctx) if active(ctx) else None
    if state is None or state.nonce != nonce or op not in _OPS[state.step]:
        return stale(ctx)
    ctx.require_chat_admin()
    if op == "x":
        ctx.dialog.pop("pick")
        await ctx.save_dialog()
        return ctx.reply(ctx.t("pick_cancelled"), edit=True)
    if op in ("m", "w", "h"):
        valid = {"m": subscriptions.MODES, "w": [str(d) for d in range(7)],
                 "h": [str(h) for h in range(24)]}[op]
        return await _choose_delivery(ctx, state, op, value) if value in valid else stale(ctx)
    if op == "all":
        state.chosen().clear()
        return await _advance(ctx, state)
    if op == "ok":
        return await _advance(ctx, state)
    if op == "pg" and value.isdigit():
        state.page = int(value)
    elif op == "p" and value in catalog.provinces():
        _toggle(state.provinces, value)
        state.provinces.sort()
    elif op == "t" and value in catalog.topics():
        _toggle(state.topics, value)
    else:
        return stale(ctx)
    await _save(ctx, state)
    return show(ctx, edit=True)


def _toggle(values: list[str], value: str) -> None:
    if value in values:
        values.remove(value)
    else:
        values.append(value)


def _typed_topics(text: str) -> list[str]:
    slugs = list(catalog.topics())
    found = [slugs[int(n) - 1] for n in _NUMBER.findall(text) if 1 <= int(n) <= len(slugs)]
    rest = _NUMBER.sub(" ", text)
    found += [s for s in slugs if s in rest] + list(parse_phrase(rest).topics)
    return list(dict.fromkeys(found))


async def on_text(ctx: Ctx) -> Result:
    """Typed input while a picking dialogue is open."""
    ctx.require_chat_admin()
    state = _state(ctx)
    step, text = state.step, ctx.msg.text
    if step in ("delivery", "weekday", "hour"):
        delivery = args.parse_delivery(text)
        if delivery is None and step == "hour" and text.strip().isdigit():
            delivery = _cadence(state, int(text))
        if delivery is None:
            return show(ctx, ctx.t("pick_not_understood"))
        return await _finish_onboard(ctx, state, delivery)
    if args.is_word(text, "done"):
        return await _advance(ctx, state)
    if args.is_word(text, "all"):
        state.chosen().clear()
        return await _advance(ctx, state)
    if step == "provinces":
        found, rest = args.province_mentions(text)
        if not found and rest.strip():
            offers = search_provinces(rest)  # a partial name: "thai" may be several provinces
            if len(offers) > 1:
                return _offer(ctx, state, offers)
            found = offers
        names = [catalog.province_name(code) if fold(shown) == fold(catalog.province_name(code))
                 or shown.isdigit() else f"{catalog.province_name(code)} ({shown})"
                 for code, shown in found]
        state.provinces = sorted(set(state.provinces) | {code for code, _ in found})
    else:
        found_topics = _typed_topics(text)
        names = [catalog.topic_name(s, ctx.lang) for s in found_topics]
        state.topics += [s for s in found_topics if s not in state.topics]
    if not names:
        return show(ctx, ctx.t("pick_not_understood"))
    note = ctx.t("pick_understood", names=", ".join(dict.fromkeys(names)))
    if not ctx.buttons:  # typing is the only way here: one answer per step keeps it short
        return await _with_note(ctx, state, note)
    await _save(ctx, state)
    return show(ctx, note)


def _offer(ctx: Ctx, state: PickState, offers: list[tuple[str, str]]) -> Result:
    """Several provinces fit what was typed: ask which, by button or by its code."""
    labels = [(code, catalog.province_name(code) if fold(name) == fold(catalog.province_name(code))
               else f"{catalog.province_name(code)} ({name})") for code, name in offers]
    if ctx.buttons:
        rows = [[Button(label, _data(state, "p", code))] for code, label in labels]
        return ctx.reply(ctx.t("pick_offer"), buttons=rows)
    return ctx.reply(ctx.t("pick_offer_typed",
                           options=" · ".join(f"{code} {label}" for code, label in labels)))


async def _with_note(ctx: Ctx, state: PickState, note: Html) -> Result:
    result = await _advance(ctx, state)
    joined = f"{note}\n\n{result.messages[0].text}"
    if utf16_len(joined) <= ctx.max_units:
        result.messages[0].text = joined
    else:
        result.messages.insert(0, OutMessage(text=note))
    return result
