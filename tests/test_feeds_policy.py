"""The source policy (ALLOW_PRIVATE_SOURCES=false, the default): no fetch reaches a loopback,
link-local, private or otherwise non-public address, whether it is written in the URL, reached by a
redirect, or what a public-looking name resolves to; refusals are one line and say nothing about
ports. These tests run with the default setting; every other test allows private sources, since
the feed server listens on 127.0.0.1."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from feeds import policy
from feeds.fetch import Fetcher
from ingest.worker import poll_once
from runtime import App, open_app
from services import sources
from services.errors import ServiceError
from storage.models import Source
from tests.chat_support import Person
from tests.conftest import make_settings
from tests.fakes.feed_server import FeedServer

RSS = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title><item>"
       b"<title>Tin</title><link>https://news.example/1</link></item></channel></rss>")


def strict(db_url: str = "sqlite://", **overrides: object):  # type: ignore[no-untyped-def]
    return make_settings(db_url, allow_private_sources=False, **overrides)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Stands in for DNS: names map to the addresses given; every lookup is counted."""
    table: dict[str, list[str]] = {}
    table["_lookups"] = []

    async def resolve(host: str, port: int) -> list[policy.Address]:
        table["_lookups"].append(host)
        if host not in table:
            raise OSError(f"no such name {host}")
        return [ipaddress.ip_address(a) for a in table[host]]

    monkeypatch.setattr(policy, "resolve", resolve)
    return table


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed server (127.0.0.1) stands in for a public host; every other address is judged
    as usual."""
    real = policy.refusal
    monkeypatch.setattr(policy, "refusal", lambda ip: None if str(ip) == "127.0.0.1" else real(ip))


@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("169.254.169.254", "link-local"),
    ("0.0.0.0", "unspecified"), ("100.64.0.1", "non-public"), ("224.0.0.1", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
    ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"), ("fc00::1", "private"),
    ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "link-local"), ("::ffff:10.0.0.1", "private"),
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1
])
def test_non_public_addresses_are_named(address: str, kind: str) -> None:
    assert policy.refusal(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "203.162.4.190", "2001:4860:4860::8888",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_pass(address: str) -> None:
    assert policy.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "feeds.localhost", "127.1",
                                  "2130706433", "0x7f.0.0.1", "[::1]", "0177.0.0.1"])
def test_hosts_that_are_this_machine_are_refused_without_dns(host: str) -> None:
    with pytest.raises(policy.SourceRefused, match="loopback address"):
        policy.check_host(host)


async def test_loopback_url_is_refused_before_connecting(feed_server: FeedServer) -> None:
    url = feed_server.add("/rss", RSS)
    async with Fetcher(strict()) as fetcher:
        result = await fetcher.fetch(url)
    assert result.refused and result.status == "error"
    assert result.error == ("refused: 127.0.0.1 is a loopback address, and Loa only reads public"
                            " addresses (ALLOW_PRIVATE_SOURCES=false)")
    assert feed_server.hits("/rss") == 0


async def test_open_and_closed_ports_give_the_same_answer(feed_server: FeedServer) -> None:
    open_url = feed_server.add("/rss", RSS)
    closed_url = "http://127.0.0.1:9/rss"  # discard: nothing listens
    async with Fetcher(strict()) as fetcher:
        answers = {(await fetcher.fetch(url)).error for url in (open_url, closed_url)}
    assert len(answers) == 1


@pytest.mark.parametrize("url, kind", [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]:8080/", "loopback"), ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[fe80::1%25eth0]/", "link-local"), ("http://localhost:5432/", "loopback"),
    ("https://10.0.0.7/rss", "private"), ("http://0.0.0.0:80/", "unspecified"),
])
async def test_address_urls_are_refused(url: str, kind: str) -> None:
    async with Fetcher(strict(http_timeout_seconds=2)) as fetcher:
        result = await fetcher.fetch(url)
    assert result.refused, result.error
    assert f"is a {kind} address" in (result.error or "")


async def test_a_public_name_resolving_to_loopback_is_refused(
        feed_server: FeedServer, dns: dict[str, list[str]]) -> None:
    feed_server.add("/rss", RSS)
    port = feed_server.base_url.rsplit(":", 1)[1]
    dns["feeds.example.vn"] = ["127.0.0.1"]
    dns["mixed.example.vn"] = ["203.162.4.190", "10.0.0.1"]  # one private answer is enough
    async with Fetcher(strict()) as fetcher:
        loop = await fetcher.fetch(f"http://feeds.example.vn:{port}/rss")
        mixed = await fetcher.fetch(f"http://mixed.example.vn:{port}/rss")
    assert loop.refused and "feeds.example.vn (127.0.0.1) is a loopback address" in str(loop.error)
    assert mixed.refused and "mixed.example.vn (10.0.0.1) is a private address" in str(mixed.error)
    assert feed_server.hits("/rss") == 0


async def test_the_connection_goes_to_the_address_that_was_checked(
        feed_server: FeedServer, dns: dict[str, list[str]], loopback_is_public: None) -> None:
    """One lookup per connection, and the socket goes to its answer: the name below exists only
    in the stand-in DNS, so reaching the server proves no second, unchecked lookup happened."""
    feed_server.add("/rss", RSS)
    port = feed_server.base_url.rsplit(":", 1)[1]
    dns["news.example.vn"] = ["127.0.0.1"]
    async with Fetcher(strict()) as fetcher:
        result = await fetcher.fetch(f"http://news.example.vn:{port}/rss")
    assert result.status == "ok", result.error
    assert dns["_lookups"] == ["news.example.vn"]
    assert feed_server.last_headers("/rss")["host"] == f"news.example.vn:{port}"


async def test_every_redirect_hop_is_checked(
        feed_server: FeedServer, dns: dict[str, list[str]], loopback_is_public: None) -> None:
    port = feed_server.base_url.rsplit(":", 1)[1]
    dns["news.example.vn"] = ["127.0.0.1"]
    dns["internal.example.vn"] = ["192.168.0.10"]
    feed_server.add("/rss", RSS)
    feed_server.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    feed_server.redirect("/to-name", "http://internal.example.vn/admin", status=302)
    feed_server.redirect("/to-mapped", "http://[::ffff:7f00:1]:1/", status=307)
    async with Fetcher(strict()) as fetcher:
        allowed = await fetcher.fetch(f"http://news.example.vn:{port}/rss")
        metadata = await fetcher.fetch(f"http://news.example.vn:{port}/to-metadata")
        named = await fetcher.fetch(f"http://news.example.vn:{port}/to-name")
        mapped = await fetcher.fetch(f"http://news.example.vn:{port}/to-mapped")
    assert allowed.status == "ok"
    assert metadata.refused and metadata.url == "http://169.254.169.254/latest/meta-data/"
    assert "169.254.169.254 is a link-local address" in str(metadata.error)
    assert named.refused and "(192.168.0.10) is a private address" in str(named.error)
    assert mapped.refused and "is a loopback address" in str(mapped.error)


async def test_allowing_private_sources_reads_them(feed_server: FeedServer) -> None:
    url = feed_server.add("/rss", RSS)
    async with Fetcher(make_settings("sqlite://", allow_private_sources=True)) as fetcher:
        assert (await fetcher.fetch(url)).status == "ok"


# --- services, chat and poller, on both engines ------------------------------------------------


@pytest.fixture
async def strict_app(db_url: str) -> AsyncIterator[App]:
    application = open_app(strict(db_url, admin_ids="1"))
    yield application
    await application.close()


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/",
                                 "http://[::ffff:127.0.0.1]:6379/", "http://2130706433/",
                                 "http://localhost:8080/rss"])
async def test_adding_or_testing_an_internal_address_is_refused(strict_app: App, url: str) -> None:
    for action in (sources.add_source, sources.test_source):
        with pytest.raises(ServiceError) as refused:
            await action(strict_app, url)
        assert refused.value.code == "source_refused"
        assert "ALLOW_PRIVATE_SOURCES=false" in refused.value.reason
    async with strict_app.sessions() as session:
        assert (await session.scalars(select(Source))).all() == []


async def test_testfeed_answers_the_admin_in_one_line(
        strict_app: App, dns: dict[str, list[str]]) -> None:
    dns["intranet.example.vn"] = ["10.20.30.40"]
    admin = Person(strict_app, "1")
    await admin.say("/testfeed http://intranet.example.vn/rss")
    assert admin.text.startswith("Loa chỉ đọc nguồn từ địa chỉ Internet công khai")
    assert "intranet.example.vn (10.20.30.40) is a private address" in admin.text
    await admin.say("/addfeed http://169.254.169.254/latest/meta-data/")
    assert admin.text.startswith("Loa chỉ đọc nguồn từ địa chỉ Internet công khai")


async def test_the_poller_records_a_refusal_on_the_source(
        strict_app: App, dns: dict[str, list[str]]) -> None:
    """A source whose name later resolves to a private address (or one added while private
    sources were allowed) fails its poll with the refusal as its readable error."""
    dns["moved-inside.example.vn"] = ["127.0.0.1"]
    dns["other.example.vn"] = ["172.20.0.5"]
    await sources.add_source(strict_app, "http://moved-inside.example.vn/rss")
    await sources.add_source(strict_app, "http://other.example.vn/rss")
    report = await poll_once(strict_app)
    assert report.failed == 2 and not report.outage  # refusals are not a network outage
    async with strict_app.sessions() as session:
        rows = (await session.scalars(select(Source).order_by(Source.id))).all()
    assert [row.error_count for row in rows] == [1, 1]
    assert rows[0].last_error == ("refused: moved-inside.example.vn (127.0.0.1) is a loopback"
                                  " address, and Loa only reads public addresses"
                                  " (ALLOW_PRIVATE_SOURCES=false)")
