"""The pieces under the router: button data, typed arguments, the command table and the texts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from handlers import args
from handlers.callbacks import BadCallback, Callback, decode, encode
from handlers.commands import command_list, commands, lookup, names_for_role
from handlers.i18n import MESSAGES_DIR, Html, t
from handlers.router import BUTTONS, COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def test_callback_round_trip_and_limits() -> None:
    data = encode("pk", "ab12cd", "t", "phong-chong-tham-nhung")
    assert decode(data) == Callback("pk", ("ab12cd", "t", "phong-chong-tham-nhung"))
    assert decode(encode("dl", "all", "weekly", "-", 6)).args == ("all", "weekly", "-", "6")
    assert len(encode("dl", 999999999999, "instant", 23, 6).encode()) <= 64
    with pytest.raises(BadCallback):
        encode("ls", "rm", "12; drop")
    with pytest.raises(BadCallback):
        encode("nope")
    for forged in ("pk:ab12cd:t", "ls:rm:1:extra", "ls:zz:1", "sr:ab12cd:x", "lg:de", ":",
                   "é" * 40):
        with pytest.raises(BadCallback):
            decode(forged)


def test_every_button_action_has_a_handler() -> None:
    from handlers.callbacks import _SPECS
    assert set(_SPECS) == set(BUTTONS)


def test_command_table() -> None:
    assert set(commands()) == set(COMMANDS)
    for command in commands().values():
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command.name)
        for lang in ("vi", "en"):
            assert 3 <= len(command.describe(lang)) <= 256
            assert command.usage_line(lang).startswith("/")
    citizen = [name for name, _ in command_list("citizen")]
    admin = [name for name, _ in command_list("admin", "en")]
    assert "search" in citizen and "report" not in citizen and "addfeed" not in citizen
    assert "report" in [name for name, _ in command_list("official")]
    assert set(citizen) < set(admin) and set(names_for_role("admin")) <= set(admin)
    assert lookup("TIMKIEM").name == "search" and lookup("xacnhan").name == "confirm"


def _keys(lang: str) -> set[str]:
    return set(json.loads((MESSAGES_DIR / f"{lang}.json").read_text(encoding="utf-8")))


def test_texts_exist_in_both_languages() -> None:
    assert _keys("vi") == _keys("en")
    used: set[str] = set()
    for path in (ROOT / "handlers").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for call in re.finditer(r"\bt\((?:lang, |self\.lang, |DEFAULT_LANG, )?([^,)]*)", source):
            keys = re.sub(r'==\s*"[^"]*"', "", call.group(1))  # ("a" if op == "pa" else "b")
            used |= set(re.findall(r'(?<![f\w])"([a-z][a-z0-9_]*)"', keys))
    # Keys built at run time: f"btn_mode_{mode}", f"weekday_{day}", ...
    used |= {f"{prefix}_{m}" for prefix in ("btn_mode", "delivery")
             for m in ("instant", "daily", "weekly", "off")}
    used |= {f"weekday_{d}" for d in range(7)} | {f"weekday_short_{d}" for d in range(7)}
    used |= {f"pick_{step}" for step in ("provinces", "topics", "delivery", "weekday", "hour")}
    used |= {"help_citizen", "help_official", "help_admin", "feed_state_active",
             "feed_state_paused", "feed_removed", "feed_paused", "feed_resumed", "btn_confirm_stop",
             "btn_confirm_broadcast"}
    missing = used - _keys("vi")
    assert not missing, missing
    codes: set[str] = set()
    for path in [*(ROOT / "services").glob("*.py"), *(ROOT / "handlers").glob("*.py")]:
        codes |= set(re.findall(r'ServiceError\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert {f"error_{c}" for c in codes} <= _keys("vi")  # every refusal has its polite line


def test_texts_escape_their_parameters() -> None:
    assert t("vi", "search_none", query="<b>&") == "Không tìm thấy tin nào cho “&lt;b&gt;&amp;”."
    assert t("vi", "feed_problem", reason=Html("<i>ok</i>")) == "⚠️ <i>ok</i>"
    assert t("fr", "usage", usage="/x") == "Cách dùng: /x"  # unknown language: Vietnamese


@pytest.mark.parametrize("text, expected", [
    ("lao cai 2", ("lao cai", 2)), ("lao cai trang 3", ("lao cai", 3)),
    ("lao cai page 2", ("lao cai", 2)), ("bão số 3", ("bão số 3", 1)), ("2024", ("2024", 1)),
    ("nhà đại đoàn kết", ("nhà đại đoàn kết", 1)),
])
def test_split_page(text: str, expected: tuple[str, int]) -> None:
    assert args.split_page(text) == expected


@pytest.mark.parametrize("text, days", [
    ("tuan", 7), ("tuần này", 7), ("hôm nay", 1), ("month", 30), ("3 ngày", 3), ("14d", 14),
    ("365", None), ("hà nội", None),
])
def test_parse_days(text: str, days: int | None) -> None:
    assert args.parse_days(text) == days


@pytest.mark.parametrize("text, expected", [
    ("Lào Cai mưa lớn", ("15", "mưa lớn")), ("33 Mất điện", ("33", "Mất điện")),
    ("TP.HCM cúp nước", ("79", "cúp nước")), ("Thái Bình ngập", ("33", "ngập")),
    ("Mưa lớn ở Huế", (None, "Mưa lớn ở Huế")), ("99 chai bia", (None, "99 chai bia")),
])
def test_leading_province(text: str, expected: tuple[str | None, str]) -> None:
    assert args.leading_province(text) == expected


def test_provinces_in_and_typed_words() -> None:
    assert args.provinces_in("33, lào cai và Hà Nội") == ["33", "15", "01"]
    assert args.provinces_in("không có tỉnh") == []
    assert args.is_word("Xong!", "done") and args.is_word("tất cả", "all")
    assert args.lookup("Tiếng Anh", "langs") == "en"
    assert args.lookup("cán bộ", "roles") == "official"
    assert args.parse_delivery("ngay 7") is None  # "instant" takes no hour
    assert args.split_number("#2 hangngay 7") == (2, "hangngay 7")
