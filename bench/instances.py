#!/usr/bin/env python3
"""Two instances on one PostgreSQL: the figures of issue 14's row "two instances" (no 409
storm; each source fetched once per interval; ≤ 30 messages in any 1 s).

The run is tests/test_e2e_instances.py's scenario (tests/e2e_instances_scenario.py): two real
`bot.py run` processes on one PostgreSQL database (127.0.0.1:5432, user postgres), against the
fake Bot API enforcing Telegram's limits (tests/fakes/telegram_api.py) and a local feed server
(tests/fakes/feed_server.py). Once one leads and the other stands by: 40 commands, 20 chats
caught up at start-up, an item found in the feed for 150 chats; the leader is killed with
SIGKILL after 40 of them, 20 more commands are sent, and the survivor delivers the rest. The
database is created for the run (`loa_bench_instances`, migrated to head) and dropped after.

Printed: the run in words with its phases, then `instances: …`:
  getupdates_409           409 Conflict answers to getUpdates (the killed leader's abandoned
                           long poll, at most)
  fetches, intervals       GETs of the feed, and poll intervals (2 s) in the run
  max_per_second           most messages the fake accepted in any 1 s (limit 30)
  max_per_chat_second      most in any 1 s to one private chat (limit 1)
  count_429                messages the fake refused for a limit
  takeover_s               from the kill to the survivor's first answer to a command
  commands_answered_twice  users answered more than once
  items_delivered_twice    chats that got their item twice (allowed only if in flight)
  in_flight_at_kill        messages claimed and not yet recorded as sent at the kill

Usage: python bench/instances.py [--keep DIR]   (--keep: the two bots' logs stay in DIR)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg

from storage.migrate import upgrade
from tests.e2e_instances_scenario import run_two_instances

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "loa_bench_instances"


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="keep the two bots' logs in this directory")
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="loa-bench-instances-"))
    workdir.mkdir(parents=True, exist_ok=True)
    _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DATABASE}"')
    try:
        url = f"{PG_SERVER}/{DATABASE}"
        upgrade(url)
        report = asyncio.run(run_two_instances(url, workdir))
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print(report.summary())
    if report.standby_exit != 0:
        print(f"the survivor exited with {report.standby_exit} after SIGTERM")
    print("reproduce: .venv/bin/python bench/instances.py")
    print(report.line())


if __name__ == "__main__":
    main()
