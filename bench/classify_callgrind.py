#!/usr/bin/env python3
"""Instructions per classified item, counted by callgrind: repeatable whatever the machine's load.

    .venv/bin/python bench/classify_callgrind.py          # the hot modules as they load
    LOA_PURE_PYTHON=1 .venv/bin/python bench/classify_callgrind.py   # as Python

Runs valgrind twice (a few minutes): loading and a warm-up of 200 items alone, then the same and
every labelled item once; the difference over the number of items is the cost of one item.
Compare two versions with it, and time them back to back with bench/classify_eval.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classify.labelled import labelled_files, load_jsonl  # noqa: E402


def corpus() -> list[dict[str, str]]:
    return [item for path in labelled_files() for item in load_jsonl(path)]


def run(count: int) -> None:
    from classify import get_classifier

    clf = get_classifier()
    items = corpus()
    for item in items[:200] + items[:count]:  # the warm-up, then the items counted
        clf.classify(item.get("title") or "", item.get("summary") or "",
                     item.get("feed_province"))


def instructions(count: int) -> int:
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           sys.executable, __file__, "--run", str(count)],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--run"]:
        run(int(sys.argv[2]))
        return
    from classify import native

    count = len(corpus())
    base, full = instructions(0), instructions(count)
    print(f"callgrind: {(full - base) // count} instructions per item ({count} items; "
          f"hot modules {native.in_use()})")


if __name__ == "__main__":
    main()
