#!/usr/bin/env python3
"""Search benchmark: 50 queries through `services.search.search` over 1M items, on SQLite and on
PostgreSQL.

The items are the real ones in ../shared/data/news/ (`--news`) and data/labelled/, varied: a
title from one item, the summary of another with a sentence of a third, dates spread over five
years (stored in date order, as a feed reader stores them, with a few late arrivals), province and
topic labels from the labelled items, 3% of them republished copies. Each database is built once
and kept under bench/.cache/ (SQLite) or as the database `loa_bench_search_<N>` (PostgreSQL):
migrated to 0002, bulk-loaded (executemany, COPY), then migrated to head, which builds the
search index over what is there, as it would on a running deployment.

The queries: common and rare words, absent words, words with a province or a topic, typed with
and without diacritics. Each runs once to warm the caches, then three times timed, in a child
process whose peak RSS is `mem_mb`.

Usage: python bench/search.py [--items N] [--backend sqlite|postgresql|both] [--rebuild]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import catalog  # noqa: E402
from storage.recent_titles import title_key  # noqa: E402
from vntext import fold, normalize  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
NEWS = ROOT.parent / "shared" / "data" / "news"
START = datetime(2021, 1, 1, tzinfo=UTC)
YEARS = 5
SOURCES = 200
CHUNK = 50_000
TARGET_P95_MS, TARGET_MEM_MB = 50, 150
ITEM_COLUMNS = ("id", "source_id", "canonical_url", "guid", "title", "summary", "published_at",
                "fetched_at", "content_hash", "title_fold", "search_text", "duplicate_of",
                "backlog")


@dataclass(frozen=True)
class Base:
    title: str
    summary: str
    provinces: tuple[str, ...]
    topics: tuple[str, ...]


def _read_news(directory: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json*")) if directory.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        found += json.loads(text) if path.suffix == ".json" else \
            [json.loads(line) for line in text.splitlines() if line.strip()]
    return found


def load_bases(news: Path) -> list[Base]:
    """The real items: the labelled ones with their labels, the others with the labels of a
    labelled item drawn at random (so label rates follow the labelled data)."""
    labelled = [json.loads(line) for path in sorted((ROOT / "data" / "labelled").glob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rnd = random.Random(7)
    codes, slugs = set(catalog.provinces()), set(catalog.topics())
    bases: list[Base] = []
    seen: set[str] = set()
    for raw in labelled + _read_news(news):
        title, summary = normalize(raw.get("title") or ""), normalize(raw.get("summary") or "")
        if not title or title in seen:
            continue
        seen.add(title)
        labels = raw if "provinces" in raw else rnd.choice(labelled)
        bases.append(Base(title, summary,
                          tuple(p for p in labels.get("provinces", []) if p in codes),
                          tuple(t for t in labels.get("topics", []) if t in slugs)))
    return bases


_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def generate(bases: list[Base], count: int, seed: int = 1) -> Any:
    """Chunks of (items, provinces, topics) rows, in id order."""
    rnd = random.Random(seed)
    folded = [(fold(b.title), fold(b.summary)) for b in bases]
    sentences = [_SENTENCE.split(b.summary) for b in bases]
    span = timedelta(days=365 * YEARS).total_seconds()
    items: list[tuple[Any, ...]] = []
    provinces: list[tuple[Any, ...]] = []
    topics: list[tuple[Any, ...]] = []
    for n in range(1, count + 1):
        a, b, c = rnd.randrange(len(bases)), rnd.randrange(len(bases)), rnd.randrange(len(bases))
        extra = rnd.choice(sentences[c]) if rnd.random() < 0.5 else ""
        summary = f"{bases[b].summary} {extra}".strip()
        summary_fold = f"{folded[b][1]} {fold(extra)}".strip() if extra else folded[b][1]
        title, title_fold = bases[a].title, folded[a][0]
        published = START + timedelta(seconds=span * n / count + rnd.uniform(-3600, 3600))
        if rnd.random() < 0.01:  # a late arrival: a new source's backlog
            published -= timedelta(days=rnd.uniform(1, 60))
        copy = n > 100 and rnd.random() < 0.03
        items.append((n, 1 + n % SOURCES, f"https://bench.example.vn/{n}", str(n), title, summary,
                      published, published + timedelta(minutes=5), f"h{n}",
                      title_key(title_fold)[:1024], f"{title_fold} {summary_fold}".rstrip(),
                      n - rnd.randint(1, 100) if copy else None, False))
        for rank, code in enumerate(bases[a].provinces):
            provinces.append((n, code, rank, "[]", 0.98))
        for slug in bases[a].topics:
            topics.append((n, slug, "[]", 0.9))
        if len(items) == CHUNK or n == count:
            yield items, provinces, topics
            items, provinces, topics = [], [], []


def queries(bases: list[Base]) -> list[tuple[str, str]]:
    """50 (kind, query) pairs drawn from the corpus, the same every run."""
    rnd = random.Random(3)
    words = Counter(w for b in bases for w in set(re.findall(r"\w+", b.title.lower())))
    pairs = Counter(p for b in bases for p in set(
        zip(re.findall(r"\w+", b.title.lower()), re.findall(r"\w+", b.title.lower())[1:],
            strict=False)))
    common = [" ".join(p) for p, _ in pairs.most_common(60) if not any(w.isdigit() for w in p)]
    rare = sorted(" ".join(p) for p, n in pairs.items() if n == 1 and all(len(w) > 3 for w in p))
    rare_words = sorted(w for w, n in words.items() if n == 1 and len(w) > 6 and w.isalpha())
    names = [p.name for p in catalog.provinces().values()]
    topic_words = ["bão", "lũ lụt", "bầu cử", "chuyển đổi số", "nhà đại đoàn kết", "an sinh xã hội"]
    chosen = [("common", q) for q in rnd.sample(common[:40], 10)]
    chosen += [("rare", q) for q in rnd.sample(rare, 6) + rnd.sample(rare_words, 4)]
    chosen += [("absent", q) for q in ("zqxvy", "blockchain lượng tử sao hỏa", "qwertyuiop",
                                       "xylophone", "abcxyz 12345")]
    chosen += [("province", f"{q} {rnd.choice(names)}") for q in rnd.sample(common[:40], 8)]
    chosen += [("province", rnd.choice(names)) for _ in range(2)]
    chosen += [("topic", f"{rnd.choice(topic_words)} {q}") for q in rnd.sample(common[:40], 5)]
    chosen += [("topic", q) for q in rnd.sample(topic_words, 3)]
    chosen += [("unmarked", fold(q)) for q in rnd.sample(common[:40], 4) + rnd.sample(rare, 3)]
    return chosen[:50]


# --- building ------------------------------------------------------------------------------


def _is_built(url: str, count: int) -> bool:
    from sqlalchemy import create_engine, text

    from storage.db import sync_url
    from storage.migrate import current_head

    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            items = conn.execute(text("SELECT count(*) FROM items")).scalar()
        return version == current_head() and items == count
    except Exception:  # noqa: BLE001 - a missing or half-built database is rebuilt
        return False
    finally:
        engine.dispose()


def _sources() -> list[tuple[Any, ...]]:
    return [(n, f"https://bench{n}.example.vn/rss", "feed", f"Báo {n}", "active", 0, True,
             START) for n in range(1, SOURCES + 1)]


_SOURCE_COLUMNS = "id, url, kind, name, state, error_count, primed, created_at"


def build_sqlite(path: Path, bases: list[Base], count: int) -> None:
    from storage.migrate import upgrade

    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    upgrade(url, "0002")
    conn = sqlite3.connect(path)
    sqlite3.register_adapter(datetime, lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(f"INSERT INTO sources ({_SOURCE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                     _sources())
    marks = ",".join("?" * len(ITEM_COLUMNS))
    for items, provinces, topics in generate(bases, count):
        conn.executemany(f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}) VALUES ({marks})", items)
        conn.executemany("INSERT INTO item_provinces (item_id, province, rank, evidence, score)"
                         " VALUES (?,?,?,?,?)", provinces)
        conn.executemany("INSERT INTO item_topics (item_id, topic, evidence, score)"
                         " VALUES (?,?,?,?)", topics)
        conn.commit()
    conn.close()
    upgrade(url)  # 0003 builds the search index over the loaded items
    conn = sqlite3.connect(path)
    conn.execute("ANALYZE")
    conn.close()


def build_postgresql(url: str, bases: list[Base], count: int) -> None:
    import psycopg

    from storage.migrate import upgrade

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    upgrade(url, "0002")
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY sources ({_SOURCE_COLUMNS}) FROM STDIN") as copy:
            for row in _sources():
                copy.write_row(row)
        for items, provinces, topics in generate(bases, count):
            with cur.copy(f"COPY items ({', '.join(ITEM_COLUMNS)}) FROM STDIN") as copy:
                for row in items:
                    copy.write_row(row)
            with cur.copy("COPY item_provinces (item_id, province, rank, evidence, score)"
                          " FROM STDIN") as copy:
                for row in provinces:
                    copy.write_row(row)
            with cur.copy("COPY item_topics (item_id, topic, evidence, score) FROM STDIN") as copy:
                for row in topics:
                    copy.write_row(row)
        cur.execute("SELECT setval('items_id_seq', %s)", (count,))
        conn.commit()
    upgrade(url)  # 0003 adds the generated tsvector and builds its GIN index
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# --- measuring (in a child process, for its peak RSS) ---------------------------------------


async def _measure(url: str, asked: list[tuple[str, str]]) -> dict[str, Any]:
    from config import load_settings
    from runtime import open_app
    from services.search import search

    app = open_app(load_settings(database_url=url, _env_file=None))
    timings: list[float] = []
    totals: dict[str, int] = {}
    try:
        for _, query in asked:  # warm the caches
            found = await search(app, query)
            totals[query] = found.total + found.more
        for _ in range(3):
            for _, query in asked:
                started = time.perf_counter()
                await search(app, query)
                timings.append((time.perf_counter() - started) * 1000)
    finally:
        await app.close()
    return {"timings": timings, "totals": totals}


def _child(url: str, query_file: Path) -> tuple[dict[str, Any], float]:
    proc = subprocess.Popen([sys.executable, __file__, "--measure", url, "--queries",
                             str(query_file)], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"measuring {url} failed")
    return json.loads(out), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--news", type=Path, default=NEWS, help="real news items (JSON, JSONL)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--verbose", action="store_true", help="each query's time and total")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--queries", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        asked = [(kind, query) for kind, query in
                 json.loads(args.queries.read_text(encoding="utf-8"))]
        print(json.dumps(asyncio.run(_measure(args.measure, asked))))
        return
    bases = load_bases(args.news)
    asked = queries(bases)
    CACHE.mkdir(parents=True, exist_ok=True)
    query_file = CACHE / "queries.json"
    query_file.write_text(json.dumps(asked, ensure_ascii=False), encoding="utf-8")
    print(f"corpus: {len(bases)} real items varied into {args.items} items; "
          f"{len(asked)} queries", flush=True)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        if backend == "sqlite":
            path = CACHE / f"search_{args.items}.db"
            url = f"sqlite:///{path}"
        else:
            url = f"{PG_SERVER}/loa_bench_search_{args.items}"
        if args.rebuild or not _is_built(url, args.items):
            started = time.perf_counter()
            if backend == "sqlite":
                build_sqlite(path, bases, args.items)
            else:
                build_postgresql(url, bases, args.items)
            print(f"built {backend} in {time.perf_counter() - started:.0f} s", flush=True)
        result, mem_mb = _child(url, query_file)
        timings = sorted(result["timings"])
        p50 = statistics.median(timings)
        p95 = timings[int(len(timings) * 0.95) - 1]
        if args.verbose:
            per_query = [timings_of for timings_of in zip(*[iter(result["timings"])] * len(asked),
                                                            strict=True)]
            for index, (kind, query) in enumerate(asked):
                worst = max(run[index] for run in per_query)
                print(f"  {kind:9} {worst:7.1f} ms  total={result['totals'][query]:5}  {query}")
        missed = [name for name, ok in (("p95", p95 < TARGET_P95_MS),
                                        ("mem", mem_mb < TARGET_MEM_MB)) if not ok]
        print(f"search: backend={backend} items={args.items} p50_ms={p50:.1f} p95_ms={p95:.1f} "
              f"mem_mb={mem_mb:.0f}" + (f" targets=missed:{','.join(missed)}" if missed else ""),
              flush=True)
    extra = "" if args.items == 1_000_000 else f" --items {args.items}"
    print(f"reproduce: .venv/bin/python bench/search.py{extra} --news {args.news}")


if __name__ == "__main__":
    main()
