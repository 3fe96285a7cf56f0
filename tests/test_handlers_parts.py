"""The pieces under the router: button data, typed arguments and the command table (the texts:
test_render_texts.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers import args
from handlers.callbacks import BadCallback, Callback, decode, encode
from handlers.commands import command_list, commands, lookup, names_for_role
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
    in_menu = {name for name in names_for_role("admin") if commands()[name].menu}
    assert set(citizen) < set(admin) and in_menu <= set(admin) and "demo" not in admin
    assert lookup("TIMKIEM").name == "search" and lookup("xacnhan").name == "confirm"


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
