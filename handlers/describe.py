"""How replies describe things: labels by name, a subscription in one line, its cadence in words,
and item lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import tzinfo

from catalog import province_name, topic_name
from model.enums import SubscriptionKind, SubscriptionMode
from render.compose import render_item
from render.markup import Html, escape
from render.texts import t
from services.errors import ServiceError
from services.subscriptions import Cadence, SubInfo
from storage.views import ItemView


def refusal_text(lang: str, exc: ServiceError) -> Html:
    """The polite line for why a service refused (its `Refusal`), from the catalogue; parameters
    a line does not take are ignored, and one it lacks gives the general line."""
    try:
        return t(lang, f"error_{exc.code}", **exc.params)
    except KeyError:
        return t(lang, "error_generic")


def provinces_text(codes: Iterable[str]) -> str:
    return ", ".join(province_name(c) for c in codes)


def topics_text(slugs: Iterable[str], lang: str) -> str:
    return ", ".join(topic_name(s, lang) for s in slugs)


def delivery_text(lang: str, delivery: Cadence) -> Html:
    if delivery.mode == SubscriptionMode.DAILY:
        return t(lang, "delivery_daily", hour=delivery.hour)
    if delivery.mode == SubscriptionMode.WEEKLY:
        return t(lang, "delivery_weekly", hour=delivery.hour,
                 day=t(lang, f"weekday_{delivery.weekday}"))
    return t(lang, f"delivery_{delivery.mode}")


def sub_text(lang: str, sub: SubInfo) -> Html:
    """What a subscription follows, in one line."""
    if sub.kind == SubscriptionKind.REPORT:
        return t(lang, "sub_report", provinces=provinces_text(sub.provinces))
    if sub.is_everything:
        return t(lang, "sub_everything")
    parts = []
    if sub.topics:
        parts.append(t(lang, "sub_topics", names=topics_text(sub.topics, lang)))
    if sub.provinces:
        parts.append(t(lang, "sub_provinces", names=provinces_text(sub.provinces)))
    if sub.keywords:
        parts.append(t(lang, "sub_keywords", words=sub.keywords))
    return Html(" · ".join(parts))


def sub_line(lang: str, sub: SubInfo) -> Html:
    """A numbered line of /list: what it follows, how it is delivered, whether it is paused."""
    state = t(lang, "sub_paused") if sub.paused else delivery_text(lang, sub.delivery)
    return t(lang, "sub_line", number=sub.number, what=sub_text(lang, sub), state=state)


def item_blocks(items: list[ItemView], *, lang: str, tz: tzinfo, why: Callable[[int], str],
                first: int = 1) -> list[str]:
    """Numbered items, each with the command that explains it (`why(item_id)`)."""
    return [f"<b>{n}.</b> {render_item(item, lang=lang, tz=tz)}\n{escape(why(item.id))}"
            for n, item in enumerate(items, start=first)]
