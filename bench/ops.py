#!/usr/bin/env python3
"""Cost of a /metrics scrape and a /healthz probe on a populated database (web/ops.py).

    .venv/bin/python bench/ops.py [--chats 20000] [--deliveries 200000] [--scrapes 50]
                                  [--database-url URL]

Fills a fresh database (SQLite unless --database-url names an empty PostgreSQL database) with
`--chats` chats, two subscriptions each and `--deliveries` outbox rows in every state, starts
the health and metrics server on 127.0.0.1 and times `--scrapes` GETs of each endpoint over a
real socket (the gauges are read from the database at every scrape).

The last line reads:
ops: chats=<n> deliveries=<n> metrics_ms_median=<ms> metrics_ms_max=<ms> healthz_ms_median=<ms>
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from config import load_settings  # noqa: E402
from model.enums import OutboxState  # noqa: E402
from runtime import App, open_app  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Chat, Delivery, Subscription  # noqa: E402
from web import ops  # noqa: E402
from web.server import Site, start_web  # noqa: E402

BATCH = 5000
STATES = list(OutboxState)


async def fill(app: App, chats: int, deliveries: int) -> None:
    now = datetime.now(UTC)
    async with app.sessions() as s, s.begin():
        for start in range(0, chats, BATCH):
            await s.execute(insert(Chat), [
                {"id": n + 1, "channel": "telegram" if n % 3 else "zalo", "chat_key": str(n),
                 "active": n % 10 != 0} for n in range(start, min(start + BATCH, chats))])
        for start in range(0, chats, BATCH):
            await s.execute(insert(Subscription), [
                {"chat_id": n + 1, "label": "lũ lụt", "mode": mode}
                for n in range(start, min(start + BATCH, chats)) for mode in ("instant", "daily")])
        for start in range(0, deliveries, BATCH):
            await s.execute(insert(Delivery), [
                {"chat_id": n % chats + 1, "kind": "instant", "dedup_key": f"bench:{n}",
                 "payload": {}, "due_at": now, "state": STATES[n % len(STATES)]}
                for n in range(start, min(start + BATCH, deliveries))])


async def run(database_url: str, chats: int, deliveries: int, scrapes: int) -> str:
    app = open_app(load_settings(database_url=database_url, _env_file=None, log_level="WARNING",
                                 log_file=""))
    try:
        await fill(app, chats, deliveries)
        servers = await start_web([Site("METRICS_ADDR", "127.0.0.1:0", ops.mount(app, {}))])
        host, port = servers.bound["METRICS_ADDR"]
        timings: dict[str, list[float]] = {"metrics": [], "healthz": []}
        try:
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
                for _ in range(scrapes):
                    for path, times in timings.items():
                        started = time.perf_counter()
                        answer = await http.get(f"/{path}")
                        times.append((time.perf_counter() - started) * 1000)
                        answer.raise_for_status()
        finally:
            await servers.stop()
    finally:
        await app.close()
    metrics, healthz = timings["metrics"], timings["healthz"]
    return (f"ops: chats={chats} deliveries={deliveries} "
            f"metrics_ms_median={statistics.median(metrics):.1f} metrics_ms_max={max(metrics):.1f} "
            f"healthz_ms_median={statistics.median(healthz):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=20_000)
    parser.add_argument("--deliveries", type=int, default=200_000)
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        print(f"command: .venv/bin/python bench/ops.py --chats {args.chats} --deliveries "
              f"{args.deliveries} --scrapes {args.scrapes}"
              + (" --database-url <postgresql>" if args.database_url else ""))
        print(asyncio.run(run(url, args.chats, args.deliveries, args.scrapes)))


if __name__ == "__main__":
    main()
