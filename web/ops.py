"""/healthz and /metrics for operators (METRICS_ADDR).

- /healthz: 200 when the database answers and every other check (the scheduler, each enabled
  channel) passes; 503 otherwise. The body is JSON either way: {"status": "ok" | "unhealthy",
  "checks": {name: "ok" or the reason}}.
- /metrics: Prometheus text from prometheus-client: the App's counters (metrics.py) and the
  gauges read from the database at scrape time (services.monitoring).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from runtime import App
from services import monitoring
from web.server import Mount

log = logging.getLogger(__name__)

# Why a part of the bot is not healthy, or None when it is.
Check = Callable[[], Awaitable[str | None]]


class DatabaseCollector(Collector):
    """Yields the gauges of the last database read; /metrics reads them just before it renders,
    with no await in between, so a scrape sees its own read."""

    def __init__(self) -> None:
        self.last = monitoring.Gauges()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = self.last
        yield _family("loa_outbox_messages", "Outbox rows by state", "state",
                      g.outbox_by_state)
        chats = GaugeMetricFamily("loa_chats", "Chats by channel and whether they are active",
                                  labels=["channel", "active"])
        for (channel, active), n in sorted(g.chats.items()):
            chats.add_metric([channel, active], n)
        yield chats
        yield _family("loa_subscribers", "Active chats with at least one subscription on, by "
                      "channel", "channel", g.subscribers)
        yield _family("loa_subscriptions", "Subscriptions by mode", "mode",
                      g.subscriptions_by_mode)
        yield _family("loa_sources", "Sources by state (active, paused)", "state",
                      g.sources_by_state)
        yield GaugeMetricFamily("loa_sources_failing", "Sources whose latest polls failed",
                                value=g.sources_failing)


def _family(name: str, documentation: str, label: str,
            values: Mapping[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def mount(app: App, checks: Mapping[str, Check]) -> Mount:
    """The routes /healthz and /metrics for `app`; `checks` are added to the database's."""
    collector = DatabaseCollector()

    async def healthz(request: web.Request) -> web.Response:
        named: dict[str, Check] = {"database": lambda: monitoring.database_problem(app),
                                   **checks}
        problems = await asyncio.gather(*(check() for check in named.values()))
        results = {name: problem or "ok" for name, problem in zip(named, problems, strict=True)}
        healthy = not any(problems)
        body = {"status": "ok" if healthy else "unhealthy", "checks": results}
        return web.Response(status=200 if healthy else 503, content_type="application/json",
                            text=json.dumps(body, ensure_ascii=False))

    async def metrics(request: web.Request) -> web.Response:
        try:
            collector.last = await monitoring.gauges(app)
        except Exception:  # noqa: BLE001 - the counters are still worth serving; /healthz says why
            log.warning("metrics: the database gauges could not be read", exc_info=True)
            collector.last = monitoring.Gauges()
        body = generate_latest(app.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def add(application: web.Application) -> None:
        app.metrics.registry.register(collector)

        async def unregister(_: web.Application) -> None:
            app.metrics.registry.unregister(collector)

        application.on_cleanup.append(unregister)
        application.router.add_get("/healthz", healthz)
        application.router.add_get("/metrics", metrics)

    return add
