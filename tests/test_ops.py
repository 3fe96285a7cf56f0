"""/healthz and /metrics (METRICS_ADDR), over real sockets, with the whole bot running against
the fake Bot API and a local feed server."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runtime import open_app
from services.sources import add_source
from tests.conftest import make_settings
from tests.e2e_support import FeedItem, bot, e2e_settings, rss
from tests.fakes.feed_server import FeedServer
from tests.fakes.telegram_api import FakeTelegram
from tests.waiting import wait_for
from web import ops
from web.server import Site, start_web

ITEMS = [
    FeedItem("Lũ lớn ở An Giang, hàng trăm hộ dân phải di dời", "lu-an-giang",
             "Tỉnh An Giang hỗ trợ các hộ dân vùng lũ."),
    FeedItem("Bàn giao 50 nhà Đại đoàn kết cho hộ nghèo ở Cà Mau", "nha-dai-doan-ket",
             "Ủy ban MTTQ tỉnh Cà Mau bàn giao nhà."),
]
LATER = FeedItem("Bão số 5 đổ bộ Đà Nẵng", "bao-da-nang", "Thành phố Đà Nẵng sơ tán dân.")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page: (name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.slow
async def test_health_and_metrics_while_a_feed_is_polled(
    sqlite_url: str, fake_telegram: FakeTelegram, feed_server: FeedServer
) -> None:
    url = feed_server.add("/tin.rss", rss(ITEMS))
    settings = e2e_settings(sqlite_url, fake_telegram, metrics_addr="127.0.0.1:0")
    async with bot(settings) as running, httpx.AsyncClient() as http:
        assert running.web is not None
        host, port = running.web.bound["METRICS_ADDR"]
        base = f"http://{host}:{port}"

        health = await http.get(f"{base}/healthz")
        assert health.status_code == 200, health.text
        assert health.json() == {"status": "ok", "checks": {
            "database": "ok", "scheduler": "ok", "telegram": "ok"}}

        async def metric(name: str, **labels: str) -> float:
            page = await http.get(f"{base}/metrics")
            assert page.status_code == 200
            return samples(page.text).get((name, tuple(sorted(labels.items()))), 0.0)

        assert await metric("loa_source_polls_total", status="new") == 0
        await add_source(running.app, url, province="91")
        # The first read is the backlog, stored as already seen.
        await wait_for(lambda: metric("loa_items_stored_total", kind="backlog"))
        # The source is polled every second, so polls and fetched entries only grow; items
        # are stored and classified once.
        assert await metric("loa_items_stored_total", kind="backlog") == 2
        assert await metric("loa_items_classified_total") == 2
        assert await metric("loa_labels_total", kind="province", label="91") == 1  # An Giang
        fetched = await metric("loa_items_fetched_total")
        polls = await metric("loa_source_polls_total", status="new")
        assert fetched >= 2 and fetched % 2 == 0 and polls >= 1
        assert await metric("loa_source_poll_seconds_count", status="new") >= polls
        assert await metric("loa_sources", state="active") == 1

        feed_server.add("/tin.rss", rss([LATER, *ITEMS]))
        await wait_for(lambda: metric("loa_items_stored_total", kind="new"))
        assert await metric("loa_items_stored_total", kind="new") == 1
        assert await metric("loa_items_classified_total") == 3
        assert await metric("loa_items_fetched_total") >= fetched + 3
        assert await metric("loa_source_polls_total", status="new") >= polls + 1

        # A reply that meets a 429 waits as asked, then goes out: both are counted.
        fake_telegram.force_429(1, retry_after=1, chat_id=501)
        fake_telegram.push_message(501, 501, "/help")
        await wait_for(lambda: metric("loa_messages_sent_total", channel="telegram",
                                      purpose="reply", outcome="ok"))
        assert await metric("loa_messages_sent_total", channel="telegram", purpose="reply",
                            outcome="retry_after") == 1
        assert await metric("loa_rate_limited_total", channel="telegram") == 1
        assert await metric("loa_rate_limit_wait_seconds_total", channel="telegram") == 1.0
        assert await metric("loa_chats", channel="telegram", active="true") == 1

        # A scheduler that stopped makes the bot unhealthy, and /healthz says why.
        running.scheduler.shutdown(wait=False)
        health = await http.get(f"{base}/healthz")
        assert health.status_code == 503
        assert health.json()["checks"]["scheduler"] == "the scheduler is not running"


async def test_healthz_names_every_reason_for_503() -> None:
    # Nothing listens on port 1: the database does not answer.
    app = open_app(make_settings("postgresql://postgres@127.0.0.1:1/loa"))

    async def telegram() -> str | None:
        return "Telegram is not polling yet (unreachable since start-up?)"

    async def scheduler() -> str | None:
        return None

    servers = await start_web([Site("METRICS_ADDR", "127.0.0.1:0",
                                    ops.mount(app, {"scheduler": scheduler,
                                                    "telegram": telegram}))])
    try:
        host, port = servers.bound["METRICS_ADDR"]
        async with httpx.AsyncClient() as http:
            health = await http.get(f"http://{host}:{port}/healthz")
            assert health.status_code == 503
            checks = health.json()["checks"]
            assert checks["database"].startswith("the database does not answer")
            assert checks["scheduler"] == "ok"
            assert checks["telegram"].startswith("Telegram is not polling")
            # The counters are still served; the database's gauges are left out.
            page = await http.get(f"http://{host}:{port}/metrics")
            assert page.status_code == 200 and "loa_source_polls_total" in page.text
    finally:
        await servers.stop()
        await app.close()


async def test_sites_on_one_address_share_one_server(sqlite_url: str) -> None:
    from aiohttp import web

    app = open_app(make_settings(sqlite_url))

    def pages(application: web.Application) -> None:
        async def index(request: web.Request) -> web.Response:
            return web.Response(text="trang chủ")
        application.router.add_get("/", index)

    servers = await start_web([Site("METRICS_ADDR", "127.0.0.1:0", ops.mount(app, {})),
                               Site("WEB_ADDR", "", pages)])
    try:
        assert set(servers.bound) == {"METRICS_ADDR"}  # an empty address is off
    finally:
        await servers.stop()
    # The same address twice: one server answers both parts.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    address = f"127.0.0.1:{free}"
    servers = await start_web([Site("METRICS_ADDR", address, ops.mount(app, {})),
                               Site("WEB_ADDR", address, pages)])
    try:
        assert len(servers.runners) == 1
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://{address}/")).text == "trang chủ"
            assert (await http.get(f"http://{address}/healthz")).status_code == 200
    finally:
        await servers.stop()
        await app.close()
