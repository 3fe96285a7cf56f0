"""Shared fixtures. Storage tests run on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres).

Locally a missing PostgreSQL skips its half of the tests; in CI (CI=true) it fails the run.
Both engines start each test from a database migrated once per session: on SQLite a copy of
that file, on PostgreSQL one of a few copies of it, emptied after each test (`_Emptied`). Here
too: the local feed server, the fake Telegram server and `count_rows`; the one fake clock is
`tests.fakes.clock.FakeClock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import os
import queue
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select

from config import Settings, load_settings
from runtime import App, open_app, tune_collector
from storage.migrate import HEAD, upgrade
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram

# A slow test's rough cost, in units of a typical slow test, unless it says (`slow(weight=30)`).
SLOW_WEIGHT = 1.0


def _weight(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return float(marker.kwargs.get("weight", SLOW_WEIGHT)) if marker else 0.0


def pytest_collection_finish(session: pytest.Session) -> None:
    """A test process lives as long as a running bot and allocates as much: what collection left
    (every module, Hypothesis, the fakes) is frozen and the collector's passes come less often,
    as in `bot.py run` (runtime.tune_collector; 7% of a worker's CPU went to the collector)."""
    tune_collector()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests first, so they run beside the rest instead of ending the run alone.

    With xdist's worksteal (`make test`), worker k is first sent the k-th contiguous slice of
    this list, and idle workers later steal from the end of a queue. So each slice starts with
    its share of the slow tests, dealt heaviest first to the lightest slice: sorting them all to
    the front would queue every slow test on the first worker, the soak behind the others."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    slow = sorted((i for i in items if _weight(i)), key=_weight, reverse=True)
    fast = [i for i in items if not _weight(i)]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for item in slow:
        k = loads.index(min(loads))
        heads[k].append(item)
        loads[k] += _weight(item)
    ordered: list[pytest.Item] = []
    left = len(items)
    for k, head in enumerate(heads):
        size = left // (workers - k)  # what xdist sends worker k first (WorkStealingScheduling)
        take = max(0, size - len(head))
        ordered += head + fast[:take]
        fast = fast[take:]
        left -= len(head) + take
    items[:] = ordered + fast


PG_ADMIN_DSN = os.environ.get("LOA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One template per test process (each xdist worker is one), so parallel sessions on one server
# do not collide.
TEMPLATE_DB = f"loa_tpl_{os.getpid()}"


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{database}"


def require_pg() -> None:
    """Skip the test when PostgreSQL is not reachable; in CI, fail it."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")


class _Dropper:
    """Drops the databases of finished tests in a thread of its own: DROP DATABASE waits for a
    checkpoint (0.5 to 4 s each on a quiet machine, minutes while another process writes a lot),
    which no test needs to wait for. `close` (at the end of the session) hands what is left to
    a process of its own and does not wait for it either: the session's last test would."""

    def __init__(self) -> None:
        self.names: queue.Queue[str | None] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.current: str | None = None  # being dropped now

    def drop(self, name: str) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="drop-databases", daemon=True)
            self.thread.start()
        self.names.put(name)

    def _run(self) -> None:
        while (name := self.names.get()) is not None:
            self.current = name
            with contextlib.suppress(psycopg.Error):  # a database left over is no test's failure
                drop_database(name)
            self.current = None

    def close(self) -> None:
        if self.thread is None:
            return
        left: list[str] = []
        with contextlib.suppress(queue.Empty):
            while (name := self.names.get_nowait()) is not None:
                left.append(name)
        self.names.put(None)
        if self.current:  # the server finishes it even if this process exits first
            left.append(self.current)
        self.thread = None
        if left:
            subprocess.Popen([sys.executable, "-c", _DROP_SCRIPT, PG_ADMIN_DSN, *left],
                             start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)


_DROP_SCRIPT = """
import sys, psycopg
for name in sys.argv[2:]:
    try:
        with psycopg.connect(sys.argv[1], autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass
"""


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_DROPPER = _Dropper()


def pytest_sessionfinish() -> None:
    _EMPTIED.close()
    _DROPPER.close()


def drop_later(name: str) -> None:
    """Drop this database once the test is over, without making it wait."""
    _DROPPER.drop(name)


class _Emptied:
    """This process's migrated PostgreSQL databases, emptied after each test for the next one
    (every table truncated, identities restarted) instead of cloned from the template before it
    and dropped after it: a clone writes the whole template through the WAL (8 MB) and a drop
    forces a checkpoint of the whole server, one after the other for a few hundred tests. A
    database that cannot be emptied, or is no longer at the template's revision, is dropped."""

    def __init__(self) -> None:
        self.free: list[str] = []
        self.made = 0
        self.layouts: dict[str, list[tuple[str, str]]] = {}

    def take(self, template: str) -> str:
        if self.free:
            return self.free.pop()
        self.made += 1
        name = f"loa_test_{os.getpid()}_{self.made}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        with psycopg.connect(_pg_url(name)) as conn:
            self.layouts[name] = _partition_layout(conn)
        return name

    def give_back(self, name: str) -> None:
        try:
            with psycopg.connect(_pg_url(name), autocommit=True) as conn:
                # What the test left connected (an app not closed, a killed process's backend).
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE datname = current_database() AND pid <> pg_backend_pid()")
                revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
                tables = [row[0] for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'")]
                if revision != [(HEAD,)] or not tables:
                    raise psycopg.DataError(f"{name} is not at revision {HEAD}")
                # Partitions split or dropped (storage/partitions.py): item ids start again at
                # 1 in the next test, which the template's layout holds and this one may not.
                if _partition_layout(conn) != self.layouts.get(name):
                    raise psycopg.DataError(f"{name}'s partitions are not the template's")
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                             + " RESTART IDENTITY CASCADE")
        except psycopg.Error:
            drop_later(name)
            return
        self.free.append(name)

    def close(self) -> None:
        for name in self.free:
            drop_later(name)
        self.free = []


def _partition_layout(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The database's partitions and their bounds."""
    return [(str(name), str(bound)) for name, bound in conn.execute(
        "SELECT relname, pg_get_expr(relpartbound, oid) FROM pg_class WHERE relispartition"
        " ORDER BY relname")]


_EMPTIED = _Emptied()


@contextmanager
def pg_database(template: str | None = None) -> Iterator[str]:
    """The URL of a PostgreSQL database for one test: a migrated one (as `template`, the session's
    pg_template, is), emptied after it (`_Emptied`); with no template, a new empty one, dropped
    after (in the background: `_Dropper`)."""
    if template == TEMPLATE_DB:
        name = _EMPTIED.take(template)
        try:
            yield _pg_url(name)
        finally:
            _EMPTIED.give_back(name)
        return
    name = f"loa_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield _pg_url(name)
    finally:
        drop_later(name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database; each test clones it, which is much faster than migrating."""
    require_pg()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    upgrade(_pg_url(TEMPLATE_DB))
    yield TEMPLATE_DB
    drop_later(TEMPLATE_DB)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("template") / "loa.db"
    upgrade(f"sqlite:///{path}")
    return path


def _sqlite_copy(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "loa.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database on each engine."""
    if request.param == "sqlite":
        yield _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    with pg_database(request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database, for tests that are not about storage engines."""
    return _sqlite_copy(sqlite_template, tmp_path)


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: never read the developer's .env. Private sources are allowed, since
    the test feed server listens on 127.0.0.1; the policy's own tests turn them off."""
    values: dict[str, object] = {"database_url": database_url, "_env_file": None,
                                 "allow_private_sources": True}
    values.update(overrides)
    return load_settings(**values)


# A test that runs this long is hung, not slow (the soak test takes about 40 s on a loaded
# 2-core machine): every thread's and every asyncio task's stack is printed and the test's tasks
# are cancelled, so the run fails with where it waited instead of hanging CI.
HANG_SECONDS = float(os.environ.get("LOA_TEST_HANG_SECONDS", "900"))


def _dump_and_cancel(done: threading.Event) -> None:
    if done.wait(HANG_SECONDS):
        return
    print(f"\n=== test still running after {HANG_SECONDS:.0f} s: stacks ===", file=sys.stderr)
    faulthandler.dump_traceback(file=sys.stderr)
    for task in list(asyncio.tasks._all_tasks):  # every loop's tasks (diagnostics only)
        if not task.done():
            print(f"--- {task.get_name()}, awaiting:", file=sys.stderr)
            for where in _await_chain(task.get_coro()):
                print(f"    {where}", file=sys.stderr)
            with contextlib.suppress(RuntimeError):  # its loop is closed
                task.get_loop().call_soon_threadsafe(task.cancel)


def _await_chain(coro: Any) -> Iterator[str]:
    """Where a suspended coroutine waits, down its chain of awaits (a task's own stack shows
    only the outermost frame)."""
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            yield f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)


@pytest.fixture(autouse=True)
def _hang_watchdog() -> Iterator[None]:
    done = threading.Event()
    threading.Thread(target=_dump_and_cancel, args=(done,), daemon=True,
                     name="hang-watchdog").start()
    yield
    done.set()


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[App]:
    """The application objects on a fresh database, on both engines."""
    application = open_app(make_settings(db_url))
    yield application
    await application.close()


@pytest.fixture
async def sqlite_app(sqlite_url: str) -> AsyncIterator[App]:
    application = open_app(make_settings(sqlite_url))
    yield application
    await application.close()


async def count_rows(app: App, model: Any, *where: Any) -> int:
    """How many rows of `model` match `where`."""
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A news portal on 127.0.0.1 (see tests/fakes/feed_server.py)."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A fake Telegram Bot API server on 127.0.0.1 (see tests/fakes/telegram_api.py)."""
    with FakeTelegram() as server:
        yield server
