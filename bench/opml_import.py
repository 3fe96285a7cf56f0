#!/usr/bin/env python3
"""Speed of an OPML import at the outline cap (services.admin.MAX_OPML_OUTLINES).

    .venv/bin/python bench/opml_import.py [--outlines 2000] [--database-url URL]

Imports an OPML file of `--outlines` feeds into a fresh database (SQLite unless --database-url
names a PostgreSQL server database, which must exist and be empty) and prints the wall time of
services.admin.import_opml: parsing with defusedxml, checking every outline, and the one
transaction that inserts the sources and their audit rows.

The last line reads:
opml_import: outlines=<n> seconds=<s> per_outline_ms=<ms>
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import load_settings  # noqa: E402
from runtime import open_app  # noqa: E402
from services import admin  # noqa: E402
from storage.migrate import upgrade  # noqa: E402


def make_opml(count: int) -> bytes:
    outlines = "\n".join(
        f'  <outline type="rss" text="Báo {n}" xmlUrl="https://bao{n}.example.vn/rss"'
        f' province="{n % 34 + 1:02d}"/>' for n in range(count))
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0"><body>\n{outlines}\n'
            "</body></opml>\n").encode()


async def run(database_url: str, data: bytes) -> float:
    app = open_app(load_settings(database_url=database_url, _env_file=None, log_level="WARNING"))
    try:
        started = time.perf_counter()
        done = await admin.import_opml(app, data, "bench")
        elapsed = time.perf_counter() - started
        if done.skipped:
            raise SystemExit(f"{len(done.skipped)} outlines skipped: {done.skipped[:3]}")
        return elapsed
    finally:
        await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlines", type=int, default=admin.MAX_OPML_OUTLINES)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        seconds = asyncio.run(run(url, make_opml(args.outlines)))
    engine = url.split(":", 1)[0]
    print(f"reproduce: .venv/bin/python bench/opml_import.py --outlines {args.outlines}"
          + (f" --database-url {args.database_url}" if args.database_url else ""))
    print(f"{args.outlines} outlines imported on {engine} in one transaction: {seconds:.2f} s")
    print(f"opml_import: outlines={args.outlines} seconds={seconds:.2f}"
          f" per_outline_ms={1000 * seconds / args.outlines:.2f}")


if __name__ == "__main__":
    main()
