"""The labelled items in data/labelled/ and their split into dev (tuning, training) and test.

Files named `news_*.jsonl` hold the items labelled for issue 10 ("new"); the others hold the first
evaluation set, which the rules were written from and which is always dev. A new item is in the
test split by a hash of its id (`split_of`), so the split never changes as batches arrive, and
nobody picks it: the test split is for measuring only, never for tuning rules or training.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from pathlib import Path
from typing import Any

LABELLED_DIR = Path(__file__).resolve().parents[1] / "data" / "labelled"
NEW_PREFIX = "news_"


class Split(StrEnum):
    DEV = "dev"
    TEST = "test"


def split_of(item_id: str, new: bool) -> Split:
    """Test: a new item whose id hashes to 0, 1 or 2 out of 10 (about 30 %); dev: all the rest."""
    if new and int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 10 < 3:
        return Split.TEST
    return Split.DEV


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def labelled_files(directory: Path = LABELLED_DIR) -> list[Path]:
    return sorted(directory.glob("*.jsonl"))


def load_split(split: Split, directory: Path = LABELLED_DIR) -> list[dict[str, Any]]:
    """Every labelled item of `split`, file by file, in file order."""
    items = []
    for path in labelled_files(directory):
        new = path.name.startswith(NEW_PREFIX)
        items += [i for i in load_jsonl(path) if split_of(i["id"], new) == split]
    return items
