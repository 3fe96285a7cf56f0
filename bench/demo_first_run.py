#!/usr/bin/env python3
"""The first run as a newcomer sees it (issue 12): `bot.py run` on the console with an empty
database, in real time, on the demo's real pace.

    .venv/bin/python bench/demo_first_run.py [--at 5 30 60]

For each `--at` T, a fresh process on a fresh SQLite database: how long until the greeting,
then `/sub nha dai doan ket` and `/digest instant` typed T seconds after it, and how long until
the first instant push. Anything on stderr is printed (it should be nothing).

The last line reads:
demo_first_run: greeting_s=<s> push_after_sub_s=<T>:<s>,... stderr_bytes=<n>
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATIENCE = 300.0


def _wait(lines: list[str], done: threading.Event, test: str, since: int = 0) -> int:
    """The index of the first line from `since` on that holds `test`."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline and not done.is_set():
        for n in range(since, len(lines)):
            if test in lines[n]:
                return n
        time.sleep(0.05)
    raise SystemExit(f"no {test!r} within {PATIENCE:.0f} s")


def one_run(at: float) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory() as folder:
        env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": f"sqlite:///{folder}/loa.db",
               "LOG_FILE": f"{folder}/loa.log"}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run"], cwd=folder,
                                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdin and proc.stdout and proc.stderr
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:
            assert proc.stdout
            for line in proc.stdout:
                lines.append(line)
            done.set()

        threading.Thread(target=read, daemon=True).start()
        _wait(lines, done, "/demo off")
        greeted = time.monotonic()
        time.sleep(max(0.0, at - (time.monotonic() - greeted)))
        proc.stdin.write("/sub nha dai doan ket\n/digest instant\n")
        proc.stdin.flush()
        subscribed = time.monotonic()
        confirmed = _wait(lines, done, "ngay khi có tin")
        _wait(lines, done, "http", confirmed + 1)  # the first push carries its link
        pushed = time.monotonic()
        proc.stdin.close()
        proc.wait(60)
        return greeted - started, pushed - subscribed, proc.stderr.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--at", type=float, nargs="+", default=[5.0, 30.0, 60.0])
    args = parser.parse_args()
    greetings, pushes, stderr_bytes = [], [], 0
    for at in args.at:
        greeting, push, stderr = one_run(at)
        greetings.append(greeting)
        pushes.append(f"{at:g}:{push:.1f}")
        stderr_bytes += len(stderr)
        if stderr:
            print(stderr, file=sys.stderr)
    print("command: .venv/bin/python bench/demo_first_run.py --at "
          + " ".join(f"{a:g}" for a in args.at))
    print(f"demo_first_run: greeting_s={max(greetings):.1f} push_after_sub_s={','.join(pushes)}"
          f" stderr_bytes={stderr_bytes}")


if __name__ == "__main__":
    main()
