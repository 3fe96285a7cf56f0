#!/usr/bin/env python3
"""One hash of everything the classifier and the text helpers say about the labelled items.

    .venv/bin/python bench/classify_identity.py [--dump FILE]

A change meant to make the classifier faster must leave it byte-identical: run this before and
after, the hash must be the same. Every item of data/labelled/*.jsonl is classified in several
variants (as is; title only; summary only; folded, marks and case gone; marks stripped, case
kept; upper case; lower case; the feed's province set to "01", to the item's own first province
and to none), and every labels, scores and evidence goes into the hash, with what vntext's
normalize, fold and fold_tokens give for each text, and how classify.query reads each title as a
phrase. `--dump FILE` writes the outputs, one JSON line per item and variant, to diff two runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classify import get_classifier  # noqa: E402
from classify.labelled import labelled_files, load_jsonl  # noqa: E402
from classify.query import parse_phrase  # noqa: E402
from vntext import fold, fold_tokens, normalize  # noqa: E402


def _no_marks(text: str) -> str:
    """Marks stripped, case kept: text typed without diacritics."""
    flat = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", flat)
                   if not unicodedata.combining(c))


Variant = tuple[str, Callable[[str], str], bool, bool]  # name, text change, title, summary
_VARIANTS: list[Variant] = [
    ("as_is", lambda s: s, True, True),
    ("title", lambda s: s, True, False),
    ("summary", lambda s: s, False, True),
    ("folded", fold, True, True),
    ("no_marks", _no_marks, True, True),
    ("upper", str.upper, True, True),
    ("lower", str.lower, True, True),
]


def outputs(item: dict[str, Any]) -> list[dict[str, Any]]:
    clf = get_classifier()
    title, summary = item.get("title") or "", item.get("summary") or ""
    own = (item.get("provinces") or [None])[0]
    feeds = {"item": item.get("feed_province"), "01": "01", "own": own, "none": None}
    out = []
    for name, change, use_title, use_summary in _VARIANTS:
        t, s = change(title) if use_title else "", change(summary) if use_summary else ""
        for feed_name, feed in feeds.items() if name == "as_is" else [("item", feeds["item"])]:
            result = clf.classify(t, s, feed)
            out.append({"id": item["id"], "variant": name, "feed": feed_name,
                        "provinces": result.provinces, "topics": result.topics,
                        "scores": result.scores,
                        "evidence": [e.to_json() for e in result.evidence]})
        for field, text in (("title", t), ("summary", s)):
            out.append({"id": item["id"], "variant": name, "field": field,
                        "normalize": normalize(text), "fold": fold(text),
                        "tokens": fold_tokens(text)})
        phrase = parse_phrase(t[:256]) if t else None
        if phrase is not None:
            out.append({"id": item["id"], "variant": name, "phrase": {
                "topics": phrase.topics, "provinces": phrase.provinces,
                "keywords": phrase.keywords,
                "evidence": [e.to_json() for e in phrase.evidence],
                "regions": [(typed, region.slug) for typed, region in phrase.regions]}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dump", type=Path, help="write every output as a JSON line here")
    args = parser.parse_args()
    digest = hashlib.sha256()
    lines = 0
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    for path in labelled_files():
        for item in load_jsonl(path):
            for out in outputs(item):
                line = json.dumps(out, ensure_ascii=False, sort_keys=True)
                digest.update(line.encode() + b"\n")
                lines += 1
                if dump:
                    dump.write(line + "\n")
    if dump:
        dump.close()
    print(f"identity: {digest.hexdigest()} outputs={lines}")


if __name__ == "__main__":
    main()
