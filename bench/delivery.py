#!/usr/bin/env python3
"""Delivery benchmark, against the fake Bot API server (tests/fakes/telegram_api.py).

1. Match and compose: 100,000 subscribers × 1,000 new items, on SQLite (or PostgreSQL). One
   process matches the items (instant rows), creates the due digests, then claims, resolves and
   renders every outbox row with the sender's own steps (`outbox.claiming`, `outbox.prepare`,
   written through one `Recorder`), in batches of 2,500, the two lanes at once, each batch
   claimed while the one before is prepared, keeping one `Rendered` and one `Matches` across
   the batches as the sender does,
   with the collector tuned as the bot tunes it (`runtime.tune_collector`). Timed from the
   first match to the last stored row (setting up the subscribers is not timed).
2. Daily digest to 10,000 subscribers (1,000 with --quick) with the limits enforced: the real
   bot process (`bot.py deliver --until-idle`) at 30 messages/s, against a fake that answers 429
   to anything over Telegram's limits. Sustained rate from the fake's arrival times (the middle
   90% of the run), 429s, and every window re-checked from the timestamps.
3. The same run with the limit lifted (paid broadcasts, 1000/s; the fake does not enforce):
   messages per second, and per second of the bot's CPU time.
Peak RSS of the bot process of each run (from wait4).

With --match-only sqlite|postgresql, only step 1, on that engine (PostgreSQL at 127.0.0.1:5432,
user postgres; the statistics are gathered after the set-up, as autovacuum would).

Usage: python bench/delivery.py [--quick] [--keep DIR] [--match-only ENGINE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert

from tests.fakes.http_fake import max_in_window
from tests.fakes.telegram_api import FakeTelegram

if TYPE_CHECKING:
    from delivery.contents import Matches, Rendered, Row
    from delivery.recorder import Recorder
    from runtime import App

LIMIT = 30
DUE = datetime(2026, 9, 14, 7, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))  # a Monday
MULTIPART_CHATS = 50  # private chats whose digest has several parts: 1 message/s each
GROUPS = 10  # groups, whose digest has several parts too: 20 messages/min each


def _settings(url: str, **overrides: Any):  # type: ignore[no-untyped-def]
    from config import load_settings

    return load_settings(database_url=url, _env_file=None, **overrides)


# --- 1. match and compose ----------------------------------------------------------------


async def _setup(url: str, subscribers: int, items: int) -> list[int]:
    from bench.delivery_data import add_items, add_subscribers
    from runtime import open_app

    app = open_app(_settings(url))
    try:
        await add_subscribers(app, subscribers, created=DUE - timedelta(days=2))
        return await add_items(app, items, fetched=DUE - timedelta(minutes=1))
    finally:
        await app.close()
        _analyze(url)


def _analyze(url: str) -> None:
    """PostgreSQL: gather the planner's statistics after a bulk load, as autovacuum does on a
    running server within a minute. Without them (a server with autovacuum off, such as a test
    server, or a load measured at once) the planner takes the new tables for empty and the
    instant matching query runs for minutes instead of seconds."""
    if url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")


def _bench_app(url: str):  # type: ignore[no-untyped-def]
    from runtime import open_app

    app = open_app(_settings(url))
    app.clock = lambda: DUE + timedelta(seconds=30)
    return app


async def _match(url: str, ids: list[int]) -> tuple[float, int]:
    """Match the new items (instant rows) and create the digests that are due, at once: in the
    bot they are independent jobs (ingest.handler matches what a poll stored, the delivery
    service's tick creates digests as the minute turns). Returns the matching's own time, and
    how many digests."""
    from delivery.digests import DigestScheduler
    from delivery.match import on_new_items

    app = _bench_app(url)

    async def instant() -> float:
        started = time.perf_counter()
        await on_new_items(app, ids)
        return time.perf_counter() - started

    try:
        instant_s, digests = await asyncio.gather(instant(), DigestScheduler(app).tick())
        return instant_s, digests
    finally:
        await app.close()


async def _compose(app: App, recorder: Recorder, lane: int, owner: str, rendered: Rendered,
                   matches: Matches, preparing: asyncio.Lock) -> tuple[int, int]:
    """Claim, resolve, render and store rows of one lane until none are due, with the sender's
    steps (`outbox.claiming`, then `outbox.prepare`: the items stored while the rows render),
    its writes through one `Recorder`, one `Rendered` and one `Matches` kept across batches and
    one batch prepared at a time, as the sender has them. Unlike the sender, which claims by
    free sending slots (16-60 rows at 30 messages/s), each next batch is claimed while the
    current one is prepared: the figure is how fast one process can compose, not how fast it
    sends."""
    from delivery import outbox

    limits = {"telegram": 4096}
    rows = messages = 0

    def claim() -> asyncio.Future[list[Row]]:
        return asyncio.ensure_future(recorder.write(
            outbox.claiming("telegram", lane, 2500, owner, app.clock())))

    following = claim()
    try:
        while batch := await following:
            following = claim()
            async with preparing:
                await outbox.prepare(app, batch, limits, rendered, matches, owner,
                                     recorder.write)
            rows += len(batch)
            messages += sum(len(row.parts or ()) for row in batch)
    finally:
        following.cancel()  # a batch that failed leaves the next claim unread
    return rows, messages


async def _match_and_compose(url: str, ids: list[int]) -> dict[str, Any]:
    """Match, then compose: instant rows first, then digests, all in this one process, the two
    lanes at once as the sender runs them (`ChannelSender.run`). The modules are imported
    before the clock starts, as a running bot has them (matplotlib, behind the officials'
    reports, alone takes seconds), and the collector is tuned as `bot.py run` and
    `bot.py deliver` tune it once started (`runtime.tune_collector`)."""
    import delivery.digests
    import delivery.match
    import delivery.outbox  # noqa: F401
    from delivery.contents import Matches, Rendered
    from delivery.recorder import Recorder
    from runtime import tune_collector

    tune_collector()

    started = time.perf_counter()
    instant_s, digests = await _match(url, ids)
    matched = time.perf_counter()
    app = _bench_app(url)
    recorder = Recorder(app)
    recorder.start()
    rendered, matches, preparing = Rendered(), Matches(), asyncio.Lock()
    try:
        lanes = await asyncio.gather(*(
            _compose(app, recorder, lane, "w0", rendered, matches, preparing) for lane in (0, 1)))
        await recorder.stop()
    finally:
        await app.close()
    done = time.perf_counter()
    return {"seconds": done - started, "match_s": matched - started, "match_instant_s": instant_s,
            "digests": digests, "rows": sum(rows for rows, _ in lanes),
            "messages": sum(messages for _, messages in lanes)}


def _child_stage(args: argparse.Namespace) -> None:
    """Set up (not timed), then match and compose in this one process."""
    ids = asyncio.run(_setup(args.url, args.subscribers, args.items))
    print(json.dumps(asyncio.run(_match_and_compose(args.url, ids))))


def _run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run a process to its end: (stdout, peak RSS in MB, CPU seconds)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=env.get("LOA_BENCH_CWD") if env else None)
    out_chunks: list[bytes] = []
    assert proc.stdout is not None
    out = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_chunks.append(out)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[1:3]} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return out.decode(), usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


# --- 2 and 3. sending runs -----------------------------------------------------------------

LOADED_ITEMS, LOADED_SUBSCRIBERS = 1_000_000, 100_000
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
CACHE = Path(os.environ.get("LOA_BENCH_CACHE", Path.home() / ".cache" / "loa-bench"))


@dataclass(frozen=True)
class Loaded:
    """The database the loaded sending run starts from: 1,000,000 items (fetched over the 100
    days before it was built) and 100,000 subscribers, built once (under `nice`) and kept: a
    SQLite file in CACHE, or the PostgreSQL database `delivery_loaded`. Each run works on a copy."""

    engine: str  # sqlite | postgresql

    def url(self, name: str) -> str:
        if self.engine == "sqlite":
            return f"sqlite:///{CACHE / (name + '.db')}"
        return f"{PG_SERVER}/{name}"

    def exists(self, name: str) -> bool:
        if self.engine == "sqlite":
            return (CACHE / (name + ".db")).exists()
        return bool(self._admin("SELECT 1 FROM pg_database WHERE datname = %s", name))

    def _admin(self, sql: str, *params: str) -> list[Any]:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def ensure(self) -> None:
        """Build the loaded database unless it is cached."""
        if self.exists("delivery_loaded"):
            return
        building = "delivery_loaded_building"
        if self.engine == "sqlite":
            CACHE.mkdir(parents=True, exist_ok=True)
            (CACHE / (building + ".db")).unlink(missing_ok=True)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            self._admin(f'CREATE DATABASE "{building}"')
        started = time.monotonic()
        _run_child(["nice", "-n", "10", sys.executable, __file__, "--stage", "build",
                    "--url", self.url(building)])
        if self.engine == "sqlite":
            (CACHE / (building + ".db")).rename(CACHE / "delivery_loaded.db")
        else:
            self._admin(f'ALTER DATABASE "{building}" RENAME TO "delivery_loaded"')
        print(f"built the loaded database ({self.engine}) in {time.monotonic() - started:.0f} s",
              flush=True)

    def copy(self, workdir: Path) -> str:
        if self.engine == "sqlite":
            shutil.copyfile(CACHE / "delivery_loaded.db", workdir / "loaded.db")
            return f"sqlite:///{workdir / 'loaded.db'}"
        self._admin('DROP DATABASE IF EXISTS "delivery_run" WITH (FORCE)')
        self._admin('CREATE DATABASE "delivery_run" TEMPLATE "delivery_loaded"')
        return self.url("delivery_run")

    def drop_copy(self, url: str) -> None:
        if self.engine == "postgresql":
            self._admin('DROP DATABASE IF EXISTS "delivery_run" WITH (FORCE)')


async def _build_loaded(url: str) -> None:
    from bench.delivery_data import add_items, add_subscribers
    from runtime import open_app

    now = datetime.now(ZoneInfo("UTC"))
    app = open_app(_settings(url))
    try:
        await add_subscribers(app, LOADED_SUBSCRIBERS, created=now - timedelta(days=120))
        await add_items(app, LOADED_ITEMS, fetched=now - timedelta(days=2),
                        spread=timedelta(days=100))
    finally:
        await app.close()
        _analyze(url)


async def _settle_loaded(url: str) -> int:
    """The loaded subscribers have had their digests: the latest ones due are queued and
    marked sent, as a running bot would have left them. Returns the highest chat id."""
    from sqlalchemy import func, select, update

    from delivery.digests import DigestScheduler
    from runtime import open_app
    from storage.models import Chat, Delivery

    app = open_app(_settings(url))
    try:
        await DigestScheduler(app).tick()
        async with app.sessions() as session, session.begin():
            await session.execute(update(Delivery).values(state="sent", sent_at=app.clock()))
            return int(await session.scalar(select(func.max(Chat.id))) or 0)
    finally:
        await app.close()



async def _fill_digest(url: str, subscribers: int, base: int = 0) -> None:
    """`subscribers` chats on a daily digest due this hour; a few get several parts. Chat and
    subscription ids start after `base` (a loaded database has its own below it)."""
    from runtime import open_app
    from storage.models import Chat, Item, ItemProvince, Source, Subscription, SubscriptionProvince
    from vntext import fold

    app = open_app(_settings(url))
    tz = app.settings.tz
    due = datetime.now(tz).replace(minute=0, second=0, microsecond=0)
    created = due - timedelta(days=1)
    async with app.sessions() as session, session.begin():
        source = Source(url="https://bench.example.vn/rss", name="Báo Thử Nghiệm")
        session.add(source)
        await session.flush()
        item_rows = []
        for n in range(31):
            long = n > 0
            title = f"Tin dài số {n} " + "chữ " * 60 if long else "Bản tin ngắn hôm nay"
            summary = "tóm tắt " * 40 if long else "Tóm tắt ngắn"
            item_rows.append({"source_id": source.id, "canonical_url": f"https://b.vn/{n}",
                              "guid": str(n), "title": title, "summary": summary,
                              "published_at": due - timedelta(minutes=30 + n),
                              "fetched_at": due - timedelta(minutes=30 + n),
                              "content_hash": str(n), "title_fold": fold(title),
                              "search_text": fold(title + " " + summary)})
        item_ids = (await session.scalars(insert(Item).returning(Item.id), item_rows)).all()
        labels = [{"item_id": item_id, "province": "48" if n > 0 else "46", "rank": 0,
                   "evidence": []} for n, item_id in enumerate(item_ids)]
        await session.execute(insert(ItemProvince), labels)
        chats, subs, provinces = [], [], []
        for n in range(subscribers):
            multipart = n < MULTIPART_CHATS + GROUPS
            group = MULTIPART_CHATS <= n < MULTIPART_CHATS + GROUPS
            key = -(1_000_000 + n) if group else 1_000_000 + n
            row_id = base + n + 1
            chats.append({"id": row_id, "channel": "telegram", "chat_key": str(key),
                          "kind": "group" if group else "private", "created_at": created})
            subs.append({"id": row_id, "chat_id": row_id, "mode": "daily", "hour": due.hour,
                         "created_at": created})
            provinces.append({"subscription_id": row_id,
                              "province": "48" if multipart else "46"})
        await session.execute(insert(Chat), chats)
        await session.execute(insert(Subscription), subs)
        await session.execute(insert(SubscriptionProvince), provinces)
    await app.close()


def _send_run(subscribers: int, *, limited: bool, workdir: Path,
              loaded: Loaded | None = None) -> dict[str, Any]:
    """One `bot.py deliver --until-idle` run of the daily digest to `subscribers` chats, on a
    fresh SQLite database, or on a copy of the loaded one."""
    from storage.migrate import upgrade

    if loaded is None:
        url = f"sqlite:///{workdir / ('limited.db' if limited else 'lifted.db')}"
        upgrade(url)
        base = 0
    else:
        url = loaded.copy(workdir)
        base = asyncio.run(_settle_loaded(url))
    asyncio.run(_fill_digest(url, subscribers, base))
    try:
        with FakeTelegram(enforce_limits=limited, global_per_second=LIMIT) as fake:
            env = {
                "PATH": os.environ.get("PATH", ""), "LOA_BENCH_CWD": str(workdir),
                "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE_URL": fake.base_url,
                "TELEGRAM_FILE_BASE_URL": fake.file_base_url,
                "TELEGRAM_GLOBAL_PER_SECOND": str(LIMIT if limited else 1000),
                "TELEGRAM_ALLOW_PAID_BROADCAST": "false" if limited else "true",
                "DELIVERY_POLL_SECONDS": "0.2", "LOG_LEVEL": "WARNING",
                "LOG_FILE": str(workdir / "loa.log"),
            }
            started = time.monotonic()
            _, rss, cpu = _run_child(
                [sys.executable, str(ROOT / "bot.py"), "deliver", "--until-idle"], env)
            wall = time.monotonic() - started
            report = fake.limit_report()
            times = fake.send_times()
            per_chat: dict[int, list[float]] = {}
            for sent in fake.sent:
                per_chat.setdefault(sent.chat_id, []).append(sent.time)
    finally:
        if loaded is not None:
            loaded.drop_copy(url)
    count = len(times)
    window = LIMIT + 1  # the tightest span of LIMIT+1 arrivals: above 1 s means no 429 was due
    tightest = min((times[i + LIMIT] - times[i] for i in range(count - LIMIT)), default=0.0)
    lo, hi = int(count * 0.05), int(count * 0.95) - 1
    steady = (hi - lo) / (times[hi] - times[lo]) if hi > lo else 0.0
    overall = (count - 1) / (times[-1] - times[0]) if count > 1 else 0.0
    return {
        "messages": count,
        "wall_s": wall,
        "rate": steady,
        "rate_overall": overall,
        "count_429": report["count_429"],
        "max_global_1s": max_in_window(times, 1.0),
        "max_private_1s": max(
            (max_in_window(t, 1.0) for c, t in per_chat.items() if c > 0), default=0
        ),
        "max_group_60s": max(
            (max_in_window(t, 60.0) for c, t in per_chat.items() if c < 0), default=0
        ),
        "rss_mb": rss,
        "cpu_s": cpu,
        "tightest": tightest,
        "window": window,
    }


def _limited_line(subscribers: int, limited: dict[str, Any], where: str) -> str:
    return (f"daily digest to {subscribers:,} subscribers{where}, limit {LIMIT}/s enforced: "
            f"{limited['messages']} messages in {limited['wall_s']:.1f} s; sustained "
            f"{limited['rate']:.2f}/s (middle 90%), {limited['rate_overall']:.2f}/s overall; "
            f"429s {limited['count_429']}; max in any 1 s {limited['max_global_1s']}, per private "
            f"chat in 1 s {limited['max_private_1s']}, per group in 60 s "
            f"{limited['max_group_60s']}; tightest {limited['window']} consecutive arrivals "
            f"{limited['tightest']:.3f} s; peak RSS {limited['rss_mb']:.0f} MB")


def _held(limited: dict[str, Any]) -> bool:
    return (limited["max_global_1s"] <= LIMIT and limited["max_private_1s"] <= 1
            and limited["max_group_60s"] <= 20)


def _loaded_run(args: argparse.Namespace, workdir: Path) -> None:
    """The limited sending run only, on a copy of the loaded database."""
    loaded = Loaded(args.loaded)
    loaded.ensure()
    subscribers = 1_000 if args.quick else 10_000
    limited = _send_run(subscribers, limited=True, workdir=workdir, loaded=loaded)
    print(_limited_line(subscribers, limited,
                        f" ({args.loaded}, {LOADED_ITEMS:,} items and {LOADED_SUBSCRIBERS:,} "
                        f"subscribers loaded)"), flush=True)
    print(f"per-chat and global windows held: {_held(limited)}")
    print(f"reproduce: .venv/bin/python bench/delivery.py --loaded {args.loaded}"
          f"{' --quick' if args.quick else ''}")
    print(f"delivery: sustained_ratio={limited['rate'] / LIMIT:.3f} "
          f"count_429={limited['count_429']} peak_rss_mb={limited['rss_mb']:.0f}")


def _match_run(engine: str, workdir: Path) -> tuple[dict[str, Any], float]:
    """Match and compose in a child process, on a fresh database of `engine` (PostgreSQL: the
    database `delivery_match`, dropped after)."""
    from storage.migrate import upgrade

    loaded = Loaded(engine)
    if engine == "sqlite":
        url = f"sqlite:///{workdir / 'match.db'}"
    else:
        loaded._admin('DROP DATABASE IF EXISTS "delivery_match" WITH (FORCE)')
        loaded._admin('CREATE DATABASE "delivery_match"')
        url = loaded.url("delivery_match")
    try:
        upgrade(url)
        out, rss, _ = _run_child([sys.executable, __file__, "--stage", "match", "--url", url,
                                  "--subscribers", "100000", "--items", "1000"])
    finally:
        if engine == "postgresql":
            loaded._admin('DROP DATABASE IF EXISTS "delivery_match" WITH (FORCE)')
    mc = json.loads(out.strip().splitlines()[-1])
    name = "SQLite" if engine == "sqlite" else "PostgreSQL"
    print(f"match+compose, 100,000 subscribers × 1,000 new items ({name}, one process): "
          f"{mc['seconds']:.2f} s (matching {mc['match_s']:.2f} s, of which instant "
          f"{mc['match_instant_s']:.2f} s; "
          f"{mc['digests']} digests due; {mc['rows']} outbox rows; {mc['messages']} messages "
          f"rendered); peak RSS {rss:.0f} MB", flush=True)
    return mc, rss


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="1,000 subscribers in the sending runs"
    )
    parser.add_argument("--keep", type=Path, help="keep the databases in this directory")
    parser.add_argument(
        "--loaded", choices=("sqlite", "postgresql"),
        help="only the limited sending run, on a database loaded with 1,000,000 items and "
             "100,000 subscribers (built once, then cached)")
    parser.add_argument(
        "--match-only", choices=("sqlite", "postgresql"),
        help="only the match+compose run (100,000 subscribers × 1,000 new items), on this engine")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--subscribers", type=int, default=100_000, help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=1_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage == "match":
        _child_stage(args)
        return
    if args.stage == "build":
        from storage.migrate import upgrade

        upgrade(args.url)
        asyncio.run(_build_loaded(args.url))
        return

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="loa-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.loaded:
            _loaded_run(args, workdir)
            return
        mc, mc_rss = _match_run(args.match_only or "sqlite", workdir)
        if args.match_only:
            print(f"reproduce: .venv/bin/python bench/delivery.py --match-only {args.match_only}")
            print(f"delivery: match_compose_s={mc['seconds']:.2f} peak_rss_mb={mc_rss:.0f}")
            return

        subscribers = 1_000 if args.quick else 10_000
        limited = _send_run(subscribers, limited=True, workdir=workdir)
        print(_limited_line(subscribers, limited, ""), flush=True)
        lifted = _send_run(subscribers, limited=False, workdir=workdir)
        per_core = lifted["messages"] / lifted["cpu_s"] if lifted["cpu_s"] else 0.0
        print(f"same run, limit lifted (1000/s, fake not enforcing): {lifted['messages']} messages "
              f"in {lifted['wall_s']:.1f} s, {lifted['rate']:.0f}/s; {per_core:.0f} messages per "
              f"CPU-second of the bot process ({lifted['cpu_s']:.1f} s CPU); peak RSS "
              f"{lifted['rss_mb']:.0f} MB", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    ratio = limited["rate"] / LIMIT
    print(f"per-chat and global windows held: {_held(limited)}")
    print(f"reproduce: .venv/bin/python bench/delivery.py{' --quick' if args.quick else ''}")
    peak = max(mc_rss, limited["rss_mb"], lifted["rss_mb"])
    print(f"delivery: sustained_ratio={ratio:.3f} count_429={limited['count_429']} "
          f"match_compose_s={mc['seconds']:.2f} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    main()
