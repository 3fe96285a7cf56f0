#!/usr/bin/env python3
"""Web benchmark: the province page and the Atom feeds over 1,000,000 stored items.

Builds a database of synthetic items (no real news text) spread over the last year, with labels
at about the rates of the labelled news (nine in ten items name one province, one in ten two;
half carry a topic), then serves the pages (web.pages.pages_app) on 127.0.0.1 and requests, one
at a time over real HTTP:
- `/p/<code>` with a random province, page 1 to 5, a topic filter one time in three;
- an Atom feed: a province, a topic or a province × topic, at random (mostly built afresh: the
  server keeps a built feed, web.pages.FEED_TTL, but there are about 500 feeds);
- then feed readers' polls: 20 feeds asked again and again with the ETag they got (a 304 while
  no item came).
Prints the 95th percentile of each (targets: page < 100 ms, Atom < 50 ms), the mean CPU time
per request and the machine's load average (a loaded machine stretches the wall-clock times),
and the command.

Usage: python bench/web.py [--items N] [--requests N] [--database-url URL] [--keep DIR]
(without --database-url, SQLite in a temporary directory, or in --keep DIR, reused when it
already holds the items).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, insert, select

import catalog
from config import load_settings
from runtime import App, open_app
from storage.migrate import upgrade
from storage.models import Item, ItemProvince, ItemTopic, Source
from vntext import fold
from web.pages import pages_app

WORDS = ["hội nghị", "nhân dân", "xã", "phường", "Mặt trận", "đoàn kết", "an sinh", "hỗ trợ",
         "bầu cử", "chuyển đổi số", "xóa nhà tạm", "nhà Đại đoàn kết", "giám sát", "cứu trợ"]
CHUNK = 20_000
NOW = datetime(2026, 9, 14, 12, tzinfo=UTC)
YEAR_S = 365 * 24 * 3600


async def _insert(app: App, model: type, rows: list[dict[str, object]]) -> None:
    async with app.sessions() as session, session.begin():
        await session.execute(insert(model), rows)


async def build(app: App, count: int, seed: int = 7) -> None:
    """`count` labelled items published over the year before NOW, in chunks."""
    rnd = random.Random(seed)
    provinces, topics = list(catalog.provinces()), list(catalog.topics())
    async with app.sessions() as session, session.begin():
        source = Source(url="https://bench-web.example.vn/rss", name="Báo Thử Nghiệm")
        session.add(source)
        await session.flush()
        source_id = source.id
    for start in range(0, count, CHUNK):
        items, labels_p, labels_t = [], [], []
        for n in range(start, min(start + CHUNK, count)):
            title = f"Tin {n}: {' '.join(rnd.sample(WORDS, 4))}"
            summary = " ".join(rnd.choice(WORDS) for _ in range(15))
            at = NOW - timedelta(seconds=rnd.randrange(0, YEAR_S))
            item_id = n + 1
            items.append({"id": item_id, "source_id": source_id,
                          "canonical_url": f"https://bench.example.vn/{n}", "guid": str(n),
                          "title": title, "summary": summary, "published_at": at,
                          "fetched_at": at, "content_hash": str(n), "title_fold": fold(title),
                          "search_text": fold(f"{title} {summary}")})
            for rank, code in enumerate(rnd.sample(provinces, 1 if rnd.random() < 0.9 else 2)):
                labels_p.append({"item_id": item_id, "province": code, "rank": rank,
                                 "evidence": []})
            if rnd.random() < 0.5:
                for slug in rnd.sample(topics, 1 if rnd.random() < 0.9 else 2):
                    labels_t.append({"item_id": item_id, "topic": slug, "evidence": []})
        await _insert(app, Item, items)
        await _insert(app, ItemProvince, labels_p)
        await _insert(app, ItemTopic, labels_t)
        print(f"  {min(start + CHUNK, count):,} items", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def _page_path(rnd: random.Random) -> str:
    code = rnd.choice(list(catalog.provinces()))
    path = f"/p/{code}?page={rnd.randint(1, 5)}"
    if rnd.random() < 1 / 3:
        path += f"&topic={rnd.choice(list(catalog.topics()))}"
    return path


def _feed_path(rnd: random.Random) -> str:
    code, slug = rnd.choice(list(catalog.provinces())), rnd.choice(list(catalog.topics()))
    return rnd.choice([f"/atom/p/{code}", f"/atom/t/{slug}", f"/atom/p/{code}/t/{slug}"])


async def _timed(http: ClientSession, server: TestServer, path: str,
                 tags: dict[str, str] | None = None) -> float:
    """Milliseconds to get `path`; with `tags`, sends the ETag kept for it and keeps the new."""
    headers = {"If-None-Match": tags[path]} if tags is not None and path in tags else {}
    started = time.perf_counter()
    async with http.get(server.make_url(path), headers=headers) as resp:
        await resp.read()
        if resp.status not in ((200, 304) if headers else (200,)):
            raise SystemExit(f"{path}: HTTP {resp.status}")
        if tags is not None:
            tags[path] = resp.headers["ETag"]
    return (time.perf_counter() - started) * 1000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def measure(app: App, requests: int) -> tuple[float, ...]:
    """p95 of the pages, of the feeds and of the polls (ms), and the mean CPU time per request
    of each, of this process (server and client, SQLite's thread included), which a busy
    machine does not inflate as it does the wall-clock times."""
    rnd = random.Random(11)
    app.clock = lambda: NOW
    async with TestServer(pages_app(app), host="127.0.0.1") as server, ClientSession() as http:
        for _ in range(10):  # warm the caches and the templates
            await _timed(http, server, _page_path(rnd))
            await _timed(http, server, _feed_path(rnd))
        cpu = time.process_time()
        pages = [await _timed(http, server, _page_path(rnd)) for _ in range(requests)]
        page_cpu, cpu = (time.process_time() - cpu) * 1000 / requests, time.process_time()
        feeds = [await _timed(http, server, _feed_path(rnd)) for _ in range(requests)]
        feed_cpu, cpu = (time.process_time() - cpu) * 1000 / requests, time.process_time()
        polled, tags = [_feed_path(rnd) for _ in range(20)], {}
        polls = [await _timed(http, server, polled[n % 20], tags) for n in range(requests)]
        poll_cpu = (time.process_time() - cpu) * 1000 / requests
    return p95(pages), p95(feeds), p95(polls), page_cpu, feed_cpu, poll_cpu


async def main(args: argparse.Namespace, url: str) -> str:
    app = open_app(load_settings(database_url=url, _env_file=None, log_file=""))
    try:
        async with app.sessions() as session:
            have = int(await session.scalar(select(func.count()).select_from(Item)) or 0)
        if have != args.items:
            if have:
                raise SystemExit(f"the database holds {have:,} items, not {args.items:,}")
            started = time.perf_counter()
            await build(app, args.items)
            print(f"  built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        page_ms, atom_ms, poll_ms, page_cpu, atom_cpu, poll_cpu = await measure(
            app, args.requests)
    finally:
        await app.close()
    return (f"web: page_p95_ms={page_ms:.1f} atom_p95_ms={atom_ms:.1f} "
            f"atom_poll_p95_ms={poll_ms:.1f} items={args.items} page_cpu_ms={page_cpu:.1f} "
            f"atom_cpu_ms={atom_cpu:.1f} atom_poll_cpu_ms={poll_cpu:.1f} "
            f"load={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url")
    parser.add_argument("--keep", type=Path, help="keep the SQLite database in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        url = args.database_url or f"sqlite:///{folder / 'web.db'}"
        upgrade(url)
        print(asyncio.run(main(args, url)))
    print("command: " + shlex.join([".venv/bin/python", "bench/web.py", *sys.argv[1:]]))
