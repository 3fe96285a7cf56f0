"""The running application's shared objects, built once from the settings and passed down."""

from __future__ import annotations

import functools
import gc
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import Settings
from metrics import Metrics
from model.channel import Channel
from storage.db import make_engine, make_sessionmaker


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Host names this process serves itself, and the loopback (address, port) each listens on:
    # the demo's feeds (services/demo.py), fetched like any source (feeds/fetch.py).
    local_sites: dict[str, tuple[str, int]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    clock: Callable[[], datetime] = _utcnow  # tests replace it to move time
    metrics: Metrics = field(default_factory=Metrics)  # this App's own counters

    async def close(self) -> None:
        await self.engine.dispose()


# The collector's thresholds in a long-running process (`tune_collector`): a young pass every
# 50,000 allocations of containers instead of 700, and older passes as rarely relative to it.
COLLECTOR_THRESHOLDS = (50_000, 20, 10)


def tune_collector() -> None:
    """For a long-running process (`bot.py run`, `bot.py deliver`), once started: the sender
    makes and drops hundreds of thousands of small containers per digest run (rows, payloads,
    result rows), and CPython's default collector, a pass every 700 of them that moves the
    survivors of a claimed batch up until a full pass walks every live object, took 30% of the
    CPU of bench/delivery.py's match+compose. What is alive after start-up (modules, settings,
    the gazetteer) stays for good: frozen, no pass walks it again; and passes come 70 times
    less often. Garbage in cycles still goes, a little later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's one TLS client context, for every HTTP client (feeds, Telegram, Zalo):
    building one reads the whole CA bundle (20 ms of CPU), which httpx and PTB otherwise do for
    each client they make (four for each Telegram start). A context keeps no per-connection
    state."""
    import httpx  # loaded here: only the processes that speak HTTP need it

    return httpx.create_ssl_context()


def open_app(settings: Settings) -> App:
    engine = make_engine(settings.database_url)
    return App(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
