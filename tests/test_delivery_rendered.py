"""The sender's rendered messages are kept across claimed batches (delivery.contents.Rendered)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from delivery import contents, outbox
from delivery.contents import Rendered, Row, render
from model.enums import DeliveryKind
from model.outbox import OutboxPayload, Part
from storage.views import ItemView

DUE = datetime(2026, 9, 14, 0, 0, tzinfo=UTC)
APP: Any = SimpleNamespace(settings=SimpleNamespace(tz=ZoneInfo("Asia/Ho_Chi_Minh"),
                                                   public_base_url=None))
LIMITS = {"telegram": 4096}


def _item(item_id: int, title: str = "Bàn giao nhà Đại đoàn kết") -> ItemView:
    return ItemView(id=item_id, title=f"{title} {item_id}", summary="Tóm tắt",
                    url=f"https://bao.vn/{item_id}", published_at=DUE, source_name="Báo Thử",
                    provinces=("91",), topics=("nha-dai-doan-ket",))


def _digest(row_id: int, items: list[int]) -> Row:
    return Row(id=row_id, chat_id=row_id, chat_key=str(row_id), chat_kind="private",
               channel="telegram", lang="vi", kind=DeliveryKind.DIGEST,
               lane=1, payload=OutboxPayload(mode="daily", hour=7, items=tuple(items),
                                             checked=True),
               due_at=DUE, parts_sent=0, attempts=0)


@pytest.fixture
def digests_rendered(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The item ids of every digest actually rendered."""
    calls: list[list[int]] = []
    real = contents.render_digest

    def counting(items: list[ItemView], **kwargs: Any) -> list[str]:
        calls.append([item.id for item in items])
        return real(items, **kwargs)

    monkeypatch.setattr(contents, "render_digest", counting)
    return calls


async def test_the_same_digest_in_later_batches_is_rendered_once(
        digests_rendered: list[list[int]]) -> None:
    views = {i: _item(i) for i in (1, 2, 3)}
    rendered = Rendered()
    first = [_digest(1, [1, 2]), _digest(2, [1, 2])]
    second = [_digest(3, [1, 2]), _digest(4, [3])]
    await render(APP, first, views, LIMITS, rendered)
    await render(APP, second, dict(views), LIMITS, rendered)  # the next batch loads its own views
    assert digests_rendered == [[1, 2], [3]]
    assert first[0].parts == first[1].parts == second[0].parts
    assert second[1].parts and "Đại đoàn kết 3" in second[1].parts[0].text


async def test_an_item_changed_since_is_rendered_again(digests_rendered: list[list[int]]) -> None:
    rendered = Rendered()
    before = {1: _item(1)}
    after = {1: replace(before[1], title="Tiêu đề đã sửa")}
    old, new = _digest(1, [1]), _digest(2, [1])
    await render(APP, [old], before, LIMITS, rendered)
    await render(APP, [new], after, LIMITS, rendered)
    assert len(digests_rendered) == 2
    assert new.parts and "Tiêu đề đã sửa" in new.parts[0].text


def test_the_cache_is_bounded() -> None:
    rendered = Rendered(size=2)
    for n in range(5):
        rendered.put((n,), [Part(str(n))])
    assert rendered.get((0,)) is None and rendered.get((4,)) == [Part("4")]


def _instant(row_id: int, items: list[int]) -> Row:
    return replace(_digest(row_id, items), kind=DeliveryKind.INSTANT, lane=0,
                   payload=OutboxPayload(items=tuple(items), checked=True))


async def test_whether_a_row_has_a_message_is_known_before_it_renders() -> None:
    """The sender stores a row's items before its parts exist (outbox.storing_resolved), for
    the rows `has_message` says will have some: it must say what rendering then does."""
    views = {1: _item(1), 2: _item(2)}
    rows = [_digest(1, [1, 2]), _digest(2, []), _digest(3, [9]),  # 9: an item since deleted
            _instant(4, [2]), _instant(5, [9]), _instant(6, []),
            replace(_digest(7, []), kind=DeliveryKind.REPORT,
                    payload=OutboxPayload(parts=[Part("báo cáo")])),
            replace(_digest(8, []), kind=DeliveryKind.REPORT, payload=OutboxPayload(parts=[]))]
    expected = [contents.has_message(row, views) for row in rows]
    await render(APP, rows, views, LIMITS, Rendered())
    assert [bool(row.parts) for row in rows] == expected
    assert expected == [True, False, False, True, False, False, True, False]


async def test_the_items_are_stored_while_the_rows_render(
        monkeypatch: pytest.MonkeyPatch, digests_rendered: list[list[int]]) -> None:
    """A big batch's items go to the database while the process renders it: the write starts
    before the last message is rendered, and the empty row is settled once all are rendered."""
    views = {i: _item(i) for i in range(1, 401)}
    rows = [_digest(i, [i]) for i in range(1, 401)] + [_digest(401, [])]
    for row in rows:
        row.changed = True
    events: list[str] = []

    async def resolved(*args: Any) -> dict[int, ItemView]:
        return views

    async def write(what: Any) -> None:
        events.append(f"write after {len(digests_rendered)} rendered")

    monkeypatch.setattr(outbox, "resolve", resolved)
    app = SimpleNamespace(settings=APP.settings, sessions=nullcontext)  # resolve reads nothing
    await outbox.prepare(app, rows, LIMITS, Rendered(), contents.Matches(), "w1", write)
    first, last = events
    assert first != "write after 400 rendered" and last == "write after 400 rendered"
    assert all(row.parts for row in rows[:-1]) and rows[-1].parts == []


async def test_a_failed_store_or_render_fails_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender retries a batch whose store failed (the database) and composes one by one a
    batch whose rendering failed: `prepare` raises whichever failed, rendering's first."""
    views = {1: _item(1)}

    async def resolved(*args: Any) -> dict[int, ItemView]:
        return views

    async def refused(what: Any) -> None:
        raise ConnectionError("database away")

    monkeypatch.setattr(outbox, "resolve", resolved)
    app = SimpleNamespace(settings=APP.settings, sessions=nullcontext)
    rows = [_digest(1, [1])]
    rows[0].changed = True
    with pytest.raises(ConnectionError):
        await outbox.prepare(app, rows, LIMITS, Rendered(), contents.Matches(), "w1", refused)

    def broken(*args: Any, **kwargs: Any) -> list[str]:
        raise ValueError("a template broke")

    monkeypatch.setattr(contents, "render_digest", broken)
    both = [_digest(2, [1])]
    both[0].changed = True  # its store fails too
    with pytest.raises(ValueError):
        await outbox.prepare(app, both, LIMITS, Rendered(), contents.Matches(), "w1", refused)


async def test_a_batch_that_gained_nothing_writes_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows already resolved (a broadcast, a row taken back after a crash): no transaction."""
    views = {1: _item(1)}

    async def resolved(*args: Any) -> dict[int, ItemView]:
        return views

    writes: list[Any] = []

    async def write(what: Any) -> None:
        writes.append(what)

    monkeypatch.setattr(outbox, "resolve", resolved)
    app = SimpleNamespace(settings=APP.settings, sessions=nullcontext)
    rows = [_digest(1, [1])]
    await outbox.prepare(app, rows, LIMITS, Rendered(), contents.Matches(), "w1", write)
    assert rows[0].parts and writes == []
