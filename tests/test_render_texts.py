"""The one catalogue of user-facing texts: every key in both languages with the same parameters,
every key the code asks for exists, and parameters are escaped."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from delivery.alerts import Alert
from feeds import health
from model.enums import OutboxState, SubscriptionMode
from render.markup import Html
from render.texts import LANGS, messages, t
from services import limits
from services.errors import Refusal

ROOT = Path(__file__).resolve().parent.parent
# Every package that asks for texts, and the modules at the top (bot.py).
SOURCES = [*ROOT.glob("*.py"), *(path for package in ("channels", "cli", "delivery", "handlers",
                                                      "render", "services")
                                for path in (ROOT / package).rglob("*.py"))]
# Keys built at run time: f"btn_mode_{mode}", f"weekday_{day}", ...
BUILT = (
    {
        f"{prefix}_{m}"
        for prefix in ("btn_mode", "delivery")
        for m in ("instant", "daily", "weekly", "off")
    }
    | {f"weekday_{d}" for d in range(7)}
    | {f"weekday_short_{d}" for d in range(7)}
    | {f"pick_{step}" for step in ("provinces", "topics", "delivery", "weekday", "hour")}
    | {
        "help_citizen",
        "help_official",
        "help_admin",
        "feed_state_active",
        "feed_state_paused",
        "feed_removed",
        "feed_paused",
        "feed_resumed",
        "btn_confirm_stop",
        *(f"alert_{alert}" for alert in Alert),
        "source_kind_feed",
        "source_kind_listing",
        "btn_confirm_broadcast",
    }
)


def _literals(node: ast.expr) -> set[str]:
    """The keys a key argument can be: a literal, or either branch of `"a" if x else "b"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literals(node.body) | _literals(node.orelse)
    return set()


def used_keys() -> set[str]:
    """The literal keys of every `t(lang, key, ...)` and `ctx.t(key, ...)` call in the source."""
    used: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id == "t" and len(node.args) >= 2:
                used |= _literals(node.args[1])
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "t" and node.args:
                used |= _literals(node.args[0])
    return used


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_in_both_languages_with_the_same_parameters() -> None:
    vi, en = messages("vi"), messages("en")
    assert set(vi) == set(en)
    differ = {key for key in vi if _fields(vi[key]) != _fields(en[key])}
    assert not differ, differ


def test_no_text_is_used_without_existing() -> None:
    used = used_keys()
    # Delivery's texts are found too, not only the handlers'.
    assert {
        "digest_daily",
        "digest_no_topic",
        "report_empty",
        "alert_prefix",
        "search_none",
    } <= used
    missing = (used | BUILT) - set(messages("vi"))
    assert not missing, missing
    # Every refusal has its polite line, in both languages (parity above).
    assert {f"error_{code}" for code in Refusal} <= set(messages("vi"))
    # Services give typed codes, never a bare string a reply would have to show as it is.
    for path in [*(ROOT / "services").glob("*.py"), *(ROOT / "handlers").glob("*.py")]:
        assert not re.search(r'ServiceError\(\s*"', path.read_text(encoding="utf-8")), path


def test_every_state_word_of_the_statistics_has_its_text() -> None:
    """/stats names roles, channels, delivery modes, source states and outbox states in the
    reader's language: each value the database can hold has its word."""
    words = {
        "role": ("citizen", "official", "admin"),
        "channel": limits.CHANNELS,
        "mode": tuple(SubscriptionMode),
        "feed_state": ("active", health.PAUSED),
        "outbox": tuple(OutboxState),
        "source_kind": ("feed", "listing"),
    }
    keys = {f"{kind}_{value}" for kind, values in words.items() for value in values}
    assert keys <= set(messages("vi")), keys - set(messages("vi"))


def test_texts_escape_their_parameters() -> None:
    assert t("vi", "search_none", query="<b>&") == "Không tìm thấy tin nào cho “&lt;b&gt;&amp;”."
    assert t("vi", "usage", usage=Html("<i>ok</i>")) == "Cách dùng: <i>ok</i>"
    assert t("vi", "feed_problem", reason="<i>") == (
        "⚠️ Lỗi gần nhất, nguyên văn: <code>&lt;i&gt;</code>")
    assert t("fr", "usage", usage="/x") == "Cách dùng: /x"  # unknown language: Vietnamese
    assert t("en", "report_more", count="<3") == "<i>… and &lt;3 more items in this period.</i>"
    assert LANGS == ("vi", "en")
