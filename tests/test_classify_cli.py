"""`bot.py classify` and `bot.py reclassify` as an admin runs them: real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.db import sync_url

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def bot(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'loa.db'}", LOG_FILE=str(tmp_path / "loa.log"),
               LOG_LEVEL="WARNING")
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=tmp_path, env=env,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_classify_reads_json_lines_and_reports_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "a1",
                "title": "Ủy ban MTTQ tỉnh An Giang bàn giao 35 căn nhà Đại đoàn "
                "kết ở TX. Tân Châu",
                "summary": "",
            },
            ensure_ascii=False,
        ),
        "{not json",
        "",
        json.dumps({"id": 7, "title": "Mưa lũ ở huyện Vũ Thư", "summary": "Dân phải sơ tán."}),
        json.dumps({"title": "không có id"}),
        json.dumps({"id": "b", "title": "x", "feed_province": "99"}),
        json.dumps(
            {
                "id": "c",
                "title": "",
                "summary": "Ủy ban MTTQ tỉnh tổ chức hội nghị giao ban.",
                "feed_province": "40",
            },
            ensure_ascii=False,
        ),
    ]
    done = bot(tmp_path, "classify", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(out) == 6  # the blank line is skipped, every other line answered in order
    assert out[0]["id"] == "a1" and out[0]["provinces"] == ["91"]
    assert out[0]["topics"] == ["nha-dai-doan-ket"]
    assert any(e["resolved"] == '"TX. Tân Châu" → thị xã Tân Châu → 91 An Giang'
               for e in out[0]["evidence"])
    assert out[0]["scores"].keys() == {"91", "nha-dai-doan-ket"}
    assert all(0 <= score <= 1 for score in out[0]["scores"].values())
    assert out[1]["line"] == 2 and out[1]["id"] is None and "not JSON" in out[1]["error"]
    assert out[2] == {"id": 7, "provinces": ["33"], "topics": ["thien-tai-cuu-tro"],
                      "evidence": out[2]["evidence"], "scores": out[2]["scores"]}
    assert out[3]["line"] == 5 and "id" in out[3]["error"]
    assert out[4] == {"id": "b", "line": 6, "error": out[4]["error"]}
    assert "feed_province" in out[4]["error"]
    assert out[5]["provinces"] == ["40"] and out[5]["topics"] == ["hoi-nghi-giao-ban"]


def test_classify_answers_every_hostile_line_with_valid_json(tmp_path: Path) -> None:
    lines = [
        "[" * 100_000,  # RecursionError in the JSON parser
        '{"id": NaN, "title": "x"}',
        '{"id": Infinity, "title": "x"}',
        '{"id": -Infinity}',
        '{"id": "n", "title": 5}',
        '{"id": "s", "summary": {"a": 1}}',
        '{"id": "u", "title": "\\ud800"}',  # a lone surrogate cannot be written as UTF-8
        '{"id": [1], "title": "x"}',
        '{"id": true, "title": "x"}',
        '{"id": 1' + "0" * 5000 + ', "title": "x"}',  # more digits than Python converts
        '{"id": "p", "title": "x", "feed_province": {"a": [1]}}',
        "42",
        json.dumps({"id": "ok", "title": "Lũ lụt ở Huế"}, ensure_ascii=False),
    ]
    done = bot(tmp_path, "classify", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    out = [json.loads(line, parse_constant=lambda name: pytest.fail(f"invalid JSON {name}"))
           for line in done.stdout.splitlines()]
    assert len(out) == len(lines)
    assert [o["line"] for o in out[:-1]] == list(range(1, len(lines)))
    assert all(set(o) == {"id", "line", "error"} and o["error"] for o in out[:-1])
    assert [o["id"] for o in out[:-1]] == [None, None, None, None, "n", "s", "u", None, None,
                                           None, "p", None]
    assert "nested too deeply" in out[0]["error"] and "NaN" in out[1]["error"]
    assert out[-1]["provinces"] == ["46"] and out[-1]["topics"] == ["thien-tai-cuu-tro"]
    assert out[-1]["scores"].keys() == {"46", "thien-tai-cuu-tro"}


def test_reclassify_relabels_stored_items(tmp_path: Path, sqlite_url: str) -> None:
    url = sqlite_url  # tmp_path/loa.db, migrated, where bot() points
    engine = create_engine(sync_url(url))
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sources (id, url, kind, name, state, error_count, primed, "
                          "created_at) VALUES (1, 'https://a.vn/rss', 'feed', 'A', 'active', 0, 1, "
                          ":now)"), {"now": now})
        conn.execute(text("INSERT INTO items (id, source_id, canonical_url, guid, title, summary, "
                          "published_at, fetched_at, content_hash, title_fold, search_text, "
                          "backlog) VALUES (1, 1, 'https://a.vn/1', 'g1', 'Bão đổ bộ Quảng Ninh', "
                          "'', :now, :now, 'h', '', '', 0)"), {"now": now})
        conn.execute(text("INSERT INTO item_provinces (item_id, province, rank, evidence) "
                          "VALUES (1, '01', 0, '[]')"))
    done = bot(tmp_path, "reclassify")
    assert done.returncode == 0, done.stderr
    # 01 replaced by 22, and the topic added.
    assert "reclassified 1 items: 1 changed; labels 2 added, 1 removed, 0 with another score" \
        in done.stdout
    with engine.connect() as conn:
        assert conn.execute(text("SELECT province FROM item_provinces")).scalars().all() == ["22"]
        assert conn.execute(text("SELECT topic FROM item_topics")).scalars().all() == \
            ["thien-tai-cuu-tro"]
        assert conn.execute(text("SELECT classified_at FROM items")).scalar_one() is not None
    engine.dispose()
