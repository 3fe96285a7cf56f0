"""data/labelled/: enough items, valid labels, a publisher and address for each, one split rule."""

from __future__ import annotations

import hashlib
from urllib.parse import urlparse

from catalog import provinces, topics
from classify.labelled import (
    LABELLED_DIR,
    NEW_PREFIX,
    Split,
    labelled_files,
    load_jsonl,
    load_split,
    split_of,
)


def test_the_split_rule_is_the_hash_of_the_id_for_new_items_only() -> None:
    for item_id in ("t11324c2ed4", "c0001", "vf5d9b90f8a", "d0001"):
        expected = int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 10 < 3
        assert (split_of(item_id, new=True) == Split.TEST) == expected
        assert split_of(item_id, new=False) == Split.DEV


def test_labelled_items_are_many_valid_unique_and_credited() -> None:
    items = [i for path in labelled_files() for i in load_jsonl(path)]
    assert len(items) >= 1500
    assert len({i["id"] for i in items}) == len(items)
    # one page once: a page labelled twice could sit in dev and in test
    assert len({i["url"] for i in items}) == len(items)
    sources = (LABELLED_DIR / "SOURCES.md").read_text(encoding="utf-8")
    for item in items:
        assert set(item["provinces"]) <= set(provinces()), item["id"]
        assert set(item["topics"]) <= set(topics()), item["id"]
        assert item["url"].startswith("http"), item["id"]
        assert urlparse(item["url"]).netloc.removeprefix("www.") in sources, item["id"]
        assert len(item["summary"]) < 1000, item["id"]  # excerpts, never articles


def test_the_test_split_holds_only_new_items_and_about_a_third_of_them() -> None:
    test_ids = {i["id"] for i in load_split(Split.TEST)}
    new = [i["id"] for path in labelled_files() if path.name.startswith(NEW_PREFIX)
           for i in load_jsonl(path)]
    assert test_ids <= set(new)
    assert 0.2 < len(test_ids) / len(new) < 0.4
