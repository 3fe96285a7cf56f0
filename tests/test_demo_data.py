"""The bundled demo (data/demo/): what the project's own parsers read from it, and its gold
labels."""

import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from catalog import topics
from classify.labelled import LABELLED_DIR, labelled_files, load_jsonl
from feeds.listing import listing_spec
from feeds.normalize import Entry
from feeds.read import parse_body
from feeds.urls import canonical_url

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
FETCHED_AT = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)  # after every demo item
sys.path.insert(0, str(ROOT / "scripts"))
import build_demo  # noqa: E402 - a script, importable once scripts/ is on the path


def _read(outlet: "build_demo.Outlet") -> list[Entry]:
    spec = listing_spec("mattran") if outlet.kind == build_demo.Kind.LISTING else None
    return parse_body((DEMO / outlet.file).read_bytes(), spec=spec, content_type=None,
                      url="", fetched_at=FETCHED_AT, local=HCM)


@pytest.fixture(scope="module")
def entries() -> dict[str, list[Entry]]:
    return {o.file: _read(o) for o in build_demo.OUTLETS}


@pytest.fixture(scope="module")
def gold() -> dict[str, dict]:
    return {canonical_url(i["url"]): i for path in labelled_files() for i in load_jsonl(path)}


def test_files_are_what_the_script_builds(tmp_path: Path) -> None:
    built = build_demo.build(tmp_path)
    assert sorted(p.name for p in built) == sorted(p.name for p in DEMO.iterdir()
                                                   if p.name != "README.md")
    for path in built:
        assert path.read_bytes() == (DEMO / path.name).read_bytes(), path.name


def test_outlets_one_national_three_provincial_one_listing() -> None:
    kinds = Counter((o.kind, o.home_province is not None) for o in build_demo.OUTLETS)
    assert kinds[(build_demo.Kind.RSS, False)] == 1
    assert kinds[(build_demo.Kind.RSS, True)] in (2, 3)
    assert kinds[(build_demo.Kind.LISTING, False)] == 1


def test_every_file_parses_with_dates_and_original_links(entries: dict[str, list[Entry]]) -> None:
    for outlet in build_demo.OUTLETS:
        read = entries[outlet.file]
        assert len(read) == len(outlet.ids), outlet.file
        for entry in read:
            assert entry.title and entry.url.startswith(("http://", "https://"))
            assert entry.dated and entry.published_at < FETCHED_AT, entry.title
    total = sum(len(e) for e in entries.values())
    assert 60 <= total <= 150
    urls = [e.url for read in entries.values() for e in read]
    assert len(set(urls)) == len(urls)


def test_gold_labels_cover_every_topic_and_many_provinces(
        entries: dict[str, list[Entry]], gold: dict[str, dict]) -> None:
    items = [gold[e.url] for read in entries.values() for e in read]
    covered_topics = {t for i in items for t in i["topics"]}
    covered_provinces = {p for i in items for p in i["provinces"]}
    assert covered_topics == set(topics())
    assert len(covered_provinces) >= 15
    assert sum(1 for i in items if i["topics"] and i["provinces"]) >= len(items) * 0.7
    assert sum(1 for i in items if not i["topics"] and not i["provinces"]) >= 5


def test_provincial_outlets_carry_their_home_province(gold: dict[str, dict]) -> None:
    by_id = {i["id"]: i for i in gold.values()}
    for outlet in build_demo.OUTLETS:
        if outlet.home_province:
            assert {by_id[i]["feed_province"] for i in outlet.ids} == {outlet.home_province}


def test_excerpts_only(entries: dict[str, list[Entry]], gold: dict[str, dict]) -> None:
    for read in entries.values():
        for entry in read:
            assert len(entry.summary) <= build_demo.SUMMARY_MAX, entry.url
            assert len(entry.title) <= 200, entry.url
            assert entry.summary.count("\n") <= 2, entry.url  # no paragraphs of an article
            assert entry.summary == gold[entry.url]["summary"].strip(), entry.url


def test_publishers_credited_in_the_sources_file(gold: dict[str, dict]) -> None:
    credited = (LABELLED_DIR / "SOURCES.md").read_text(encoding="utf-8")
    manifest = json.loads((DEMO / "demo.json").read_text(encoding="utf-8"))
    for item in manifest["items"]:
        assert f"| {urlparse(item['url']).netloc.removeprefix('www.')} |" in credited, item["id"]
    assert "data/demo" in (DEMO / "README.md").read_text(encoding="utf-8")
