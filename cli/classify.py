"""`bot.py classify`: classify JSON Lines from stdin; `bot.py reclassify`: relabel stored items."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, BinaryIO, TextIO

from catalog import provinces
from classify import get_classifier
from cli.running import run_with_app
from config import Settings
from runtime import App
from services.classification import reclassify_all


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "classify",
        help="classify items read as JSON Lines on stdin",
        description="Reads one JSON object per line ({\"id\", \"title\", \"summary\", optional "
                    "\"feed_province\"}) and writes one per line: {\"id\", \"provinces\", "
                    "\"topics\", \"evidence\"}, or {\"line\", \"error\"} for a line it cannot read.")
    parser.set_defaults(func=_classify)
    again = sub.add_parser("reclassify", help="classify every stored item again (after the "
                                              "gazetteer or the topic rules change)")
    again.set_defaults(func=_reclassify)


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    classify_stream(sys.stdin.buffer, sys.stdout)
    return 0


def _reclassify(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        count = await reclassify_all(app)
        print(f"reclassified {count} items")
        return 0
    return run_with_app(settings, command)


def classify_stream(source: BinaryIO, out: TextIO) -> None:
    """One output line per non-blank input line, in order; a bad line gets an error line."""
    classifier = get_classifier()
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            item = _read_item(raw)
        except ValueError as exc:
            result: dict[str, Any] = {"line": number, "error": str(exc)}
        else:
            found = classifier.classify(item["title"], item["summary"], item["feed_province"])
            result = {"id": item["id"], "provinces": found.provinces, "topics": found.topics,
                      "evidence": found.evidence}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()


def _read_item(raw: bytes) -> dict[str, Any]:
    try:
        item = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object")
    if "id" not in item:
        raise ValueError('missing "id"')
    for name in ("title", "summary"):
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError(f'"{name}" must be a string')
        item[name] = value or ""
    province = item.get("feed_province")
    if province is not None and (not isinstance(province, str) or province not in provinces()):
        raise ValueError(f'"feed_province" must be a current province code such as "01", '
                         f"not {province!r}")
    item["feed_province"] = province
    return item
