"""`bot.py classify`: classify JSON Lines from stdin; `bot.py reclassify`: relabel stored items."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, BinaryIO, TextIO

from catalog import provinces
from classify import get_classifier
from classify.confidence import label_scores
from cli import help_of
from cli.running import run_with_app
from config import Settings
from runtime import App
from services.classification import reclassify_all

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "classify",
        help=help_of("classify"),
        description="Reads one JSON object per line ({\"id\", \"title\", \"summary\", optional "
                    "\"feed_province\"}) and writes one per line: {\"id\", \"provinces\", "
                    "\"topics\", \"evidence\", \"scores\"}, or {\"id\", \"line\", \"error\"} for a "
                    "line it cannot classify.")
    parser.set_defaults(func=_classify)
    again = sub.add_parser("reclassify", help=help_of("reclassify"))
    again.set_defaults(func=_reclassify)


def _classify(args: argparse.Namespace, settings: Settings) -> int:
    classify_stream(sys.stdin.buffer, sys.stdout)
    return 0


def _reclassify(args: argparse.Namespace, settings: Settings) -> int:
    async def command(app: App) -> int:
        changes = await reclassify_all(app)
        print(f"reclassified {changes.items} items: {changes.changed_items} changed; labels "
              f"{changes.added} added, {changes.removed} removed, {changes.rescored} with "
              f"another score")
        return 0
    return run_with_app(settings, command)


def classify_stream(source: BinaryIO, out: TextIO) -> None:
    """One output line per non-blank input line, in order, always valid JSON: the labels with
    their evidence and scores, or `{"id", "line", "error"}` for a line that cannot be
    classified (the id is null when the line has none that JSON can carry). The run goes on."""
    classifier = get_classifier()
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        item_id: ItemId = None
        try:
            item = _read_item(raw)
            item_id = item["id"]
            found = classifier.classify(item["title"], item["summary"], item["feed_province"])
            result: dict[str, Any] = {"id": item_id, "provinces": found.provinces,
                                      "topics": found.topics,
                                      "evidence": [e.to_json() for e in found.evidence],
                                      "scores": label_scores(found)}
            line = json.dumps(result, ensure_ascii=False, allow_nan=False)
        except BadLine as exc:
            line = _error_line(exc.item_id, number, str(exc))
        except Exception as exc:  # one bad item must not end the stream
            log.exception("classify: line %d failed", number)
            line = _error_line(item_id, number, f"cannot classify: {type(exc).__name__}")
        out.write(line + "\n")
        out.flush()


ItemId = str | int | float | None


class BadLine(ValueError):
    """An input line that is not a classifiable item; carries the id when one was readable."""

    def __init__(self, message: str, item_id: ItemId = None) -> None:
        super().__init__(message)
        self.item_id = item_id


def _error_line(item_id: ItemId, number: int, error: str) -> str:
    return json.dumps({"id": item_id, "line": number, "error": error}, ensure_ascii=False,
                      allow_nan=False)


def _reject_constant(name: str) -> None:
    raise BadLine(f"not JSON: {name} is not a JSON number")


def _read_item(raw: bytes) -> dict[str, Any]:
    try:
        item = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise BadLine("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc.msg} at column {exc.colno}") from None
    except BadLine:
        raise
    except RecursionError:
        raise BadLine("not JSON this program reads: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise BadLine(f"not JSON this program reads: {exc}") from None
    if not isinstance(item, dict):
        raise BadLine("expected a JSON object")
    if "id" not in item:
        raise BadLine('missing "id"')
    item_id = item["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, (str, int, float)) \
            or not _encodable(item_id):
        raise BadLine('"id" must be a string or a number')
    for name in ("title", "summary"):
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            raise BadLine(f'"{name}" must be a string', item_id)
        if value is not None and not _encodable(value):
            raise BadLine(f'"{name}" has a lone surrogate (\\ud800 to \\udfff), not text',
                          item_id)
        item[name] = value or ""
    province = item.get("feed_province")
    if province is not None and (not isinstance(province, str) or province not in provinces()):
        shown = (
            province if isinstance(province, (str, int, float, bool)) else type(province).__name__
        )
        raise BadLine(f'"feed_province" must be a current province code such as "01", '
                      f"not {json.dumps(shown, ensure_ascii=False)[:40]}", item_id)
    item["feed_province"] = province
    return item


def _encodable(value: str | float) -> bool:
    """True for a value that prints as JSON and writes as UTF-8: no lone surrogates (JSON's
    "\\ud800" escapes decode to them), an integer within Python's printable digits."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    try:
        str(value)
    except ValueError:
        return False
    return True
