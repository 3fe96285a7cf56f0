"""Composing: escaping, UTF-16 lengths, splitting at item boundaries, digest grouping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from render.compose import render_batch, render_digest, render_item, split_parts
from render.markup import escape, html_to_plain
from storage.views import ItemView
from tests.fakes.telegram_api import parse_html
from vntext import utf16_len

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 9, 14, 1, 0, tzinfo=UTC)


def item(n: int, *, provinces=("46",), topics=("dai-hoi-mttq",), title: str | None = None,
         summary: str = "Tóm tắt", minutes: int = 0) -> ItemView:
    return ItemView(
        id=n,
        title=title or f"Tin số {n}",
        summary=summary,
        url=f"https://example.vn/tin?id={n}&x=<1>",
        published_at=T0 + timedelta(minutes=minutes),
        source_name="Báo Ví Dụ",
        provinces=tuple(provinces),
        topics=tuple(topics),
    )


def test_escape_and_plain_text() -> None:
    assert escape('<b> & "quote"') == '&lt;b&gt; &amp; "quote"'
    html = '<b>Tiêu đề</b> &amp; <a href="https://x.vn/?a=1&amp;b=2">đọc</a>'
    assert html_to_plain(html) == "Tiêu đề & đọc https://x.vn/?a=1&b=2"
    assert html_to_plain('<a href="https://x.vn">https://x.vn</a>') == "https://x.vn"


def test_item_is_escaped_valid_telegram_html_with_its_link() -> None:
    block = render_item(item(1, title="A <b> & B", summary="x < y & z > w"), tz=TZ)
    plain, _ = parse_html(block)  # the fake's parser: raises on anything Telegram refuses
    assert "A <b> & B" in plain and "x < y & z > w" in plain
    assert '<a href="https://example.vn/tin?id=1&amp;x=&lt;1&gt;">' in block
    assert "08:00 14/09/2026" in block  # local time, Asia/Ho_Chi_Minh
    assert "Huế" in block and "Đại hội Mặt trận" in block  # labels in an instant message


def test_split_counts_utf16_and_never_cuts_a_block() -> None:
    emoji_block = "🎉" * 900  # 1800 UTF-16 units, 900 characters
    parts = split_parts([emoji_block, emoji_block, emoji_block], 4096)
    assert [utf16_len(p) for p in parts] == [1800 * 2 + 2, 1800]
    assert all(p.count("🎉") % 900 == 0 for p in parts)
    assert split_parts(["a" * 10, "b" * 10], 21) == ["a" * 10, "b" * 10]
    assert split_parts(["a" * 10, "b" * 10], 22) == ["a" * 10 + "\n\n" + "b" * 10]


def test_a_block_longer_than_the_limit_is_cut_into_plain_lines() -> None:
    long = "<b>đầu</b>\n" + "x & y " * 100
    parts = split_parts([long], 100)
    assert all(utf16_len(p) <= 100 for p in parts)
    for part in parts:
        parse_html(part)


@pytest.mark.parametrize("limit", [4096, 2000])
def test_digest_parts_fit_the_channel_and_group_newest_first(limit: int) -> None:
    items = [item(n, provinces=("46",) if n % 2 else ("01",),
                  topics=("bau-cu",) if n % 3 else ("dai-hoi-mttq",),
                  title=f"Tin {n} 🇻🇳 " + "chữ " * 40, summary="tóm tắt 😀 " * 30, minutes=n)
             for n in range(60)]
    parts = render_digest(items, header="📰 <b>Bản tin</b>: 60 tin", lang="vi", tz=TZ, limit=limit)
    assert len(parts) > 2
    assert all(utf16_len(p) <= limit for p in parts)
    assert parts[0].startswith("📰 <b>Bản tin</b>: 60 tin")
    assert parts[-1].endswith(f"<i>({len(parts)}/{len(parts)})</i>")
    joined = "\n".join(parts)
    for n in range(60):  # every item exactly once
        assert joined.count(f">Tin {n} 🇻🇳") == 1
    for part in parts:
        parse_html(part)
    # Province groups in order of their newest item (59 is odd: Huế first), newest first inside.
    assert joined.index("📍 <b>Huế</b>") < joined.index("📍 <b>Hà Nội</b>")
    hue = [n for n in range(59, -1, -1) if n % 2]
    positions = [joined.index(f">Tin {n} 🇻🇳") for n in hue if n % 3]
    assert positions == sorted(positions)


def test_no_items_no_digest() -> None:
    assert render_digest([], header="h", lang="vi", tz=TZ, limit=4096) == []


def test_instant_one_item_or_a_headed_batch() -> None:
    [one] = render_batch([item(1)], lang="vi", tz=TZ, limit=4096)
    assert one.startswith("<b><a href=")
    [batch] = render_batch([item(1, minutes=1), item(2, minutes=5)], lang="en", tz=TZ, limit=4096)
    assert batch.startswith("🔔 <b>2 new items</b>")
    assert batch.index("Tin số 2") < batch.index("Tin số 1")  # newest first


def test_an_oversized_block_is_measured_piece_by_piece() -> None:
    # A block over the limit is broken at its lines; every piece counts its own length.
    parts = split_parts(["x" * 3000, "y" * 3000, "line\n" + "z" * 5000], 4096)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert parts[0] == "x" * 3000
