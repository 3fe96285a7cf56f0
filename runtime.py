"""The running application's shared objects, built once from the settings and passed down."""

from __future__ import annotations

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


def open_app(settings: Settings) -> App:
    engine = make_engine(settings.database_url)
    return App(settings=settings, engine=engine, sessions=make_sessionmaker(engine))
