"""Fetch a source over HTTP, defensively: every way a fetch can go wrong ends in a FetchResult with
a readable reason, never an exception.

- conditional GET (ETag / Last-Modified); 304 and an empty 200 both mean "unchanged"
- one wall-clock deadline for the whole fetch, redirects and body included, so a server that
  drips one byte a second cannot hold a poll open
- a size cap counted while streaming, on the bytes received and again on the bytes after
  decompression, which we do ourselves in bounded steps (a gzip bomb never inflates in memory)
- redirects followed by hand, with a limit and loop detection; a chain of permanent redirects
  (301/308) reports where it leads so the stored URL can be updated
- at most HTTP_PER_HOST_CONCURRENCY requests to one host at a time
- the source policy (feeds.policy, ALLOW_PRIVATE_SOURCES) enforced where sockets are opened:
  `_CheckedBackend` resolves each host itself, checks every address, and connects to the address
  it checked, for the first request and every redirect alike
- names this process serves itself (`local_sites`: the demo's `demo.loa.invalid`, see
  services/demo.py) connect to the loopback address it listens on, past the policy: nothing else
  is exempt, and a `.invalid` name never resolves in DNS, so no one else can answer for it

One Fetcher (one httpx.AsyncClient, one set of per-host limits) serves a whole poll run.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from config import Settings
from feeds import policy
from runtime import tls_context

PERMANENT = (301, 308)
REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024
_DRAIN_LIMIT = 64 * 1024  # a redirect or 304 body longer than this is not worth a connection
_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
           "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.5, */*;q=0.1")


@dataclass(slots=True)
class FetchResult:
    url: str  # the URL that answered last
    status: Literal["ok", "unchanged", "error"]
    body: bytes = b""
    http_status: int | None = None
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None  # where permanent redirects from the requested URL lead
    error: str | None = None
    refused: bool = False  # the source policy refused an address (the error says which)

    @property
    def ok(self) -> bool:
        return self.status != "error"


class _Failure(Exception):
    """Internal: ends a fetch with this reason."""


class _Decoder:
    """Content-Encoding undone in steps of bounded output, so memory stays under the cap."""

    def __init__(self, encoding: str) -> None:
        encoding = encoding.strip().lower()
        self._first = True
        self._raw_retry = False
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()  # zlib-wrapped; raw deflate is retried below
            self._raw_retry = True
        else:
            raise _Failure(f"unsupported Content-Encoding {encoding!r}")

    def feed(self, data: bytes, room: int) -> list[bytes]:
        """Decoded pieces of `data`; stops once more than `room` bytes came out."""
        if self._zlib is None:
            return [data]
        pieces, produced = [], 0
        try:
            while data and produced <= room:
                piece = self._zlib.decompress(data, room - produced + 1)
                self._first = False
                pieces.append(piece)
                produced += len(piece)
                data = self._zlib.unconsumed_tail
        except zlib.error as exc:
            if self._first and self._raw_retry:
                self._zlib, self._raw_retry = zlib.decompressobj(-zlib.MAX_WBITS), False
                return self.feed(data, room)
            raise _Failure(f"the compressed body is corrupt: {exc}") from None
        return pieces

    def finish(self) -> None:
        if self._zlib is not None and not self._zlib.eof:
            raise _Failure("the compressed body is corrupt or cut short")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _describe(exc: BaseException, url: str, timeout: float) -> str:
    host = _host(url)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {host}: {cause.strerror or cause}"
        cause = cause.__cause__ or cause.__context__
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, httpx.TimeoutException)):
        return f"no complete answer from {host} within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        if "name or service not known" in text.lower() or "nodename nor servname" in text:
            return f"DNS lookup failed for {host}"
        return f"could not connect to {host}: {text}"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"invalid URL {url!r}: {text}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{host} broke the HTTP protocol: {text}"
    return f"fetching from {host} failed: {text}"


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's socket layer with the source policy in front: the host is resolved here
    (feeds.policy.resolve), every address is checked, and the socket is opened to one of those
    very addresses, by IP, so nothing resolves the name a second time (no DNS-rebinding window).

    Why here and not by rewriting URLs to IPs: httpcore still sees the real host, so the Host
    header, TLS SNI and certificate checks and the connection pool's keys stay the name's own; a
    pool keyed by IP would hand a TLS connection made for one virtual host to another."""

    def __init__(self, allow_private: bool,
                 local_sites: Mapping[str, tuple[str, int]] | None = None) -> None:
        self._allow_private = allow_private
        self._local_sites = local_sites if local_sites is not None else {}
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None
                          ) -> httpcore.AsyncNetworkStream:
        local = self._local_sites.get(host.lower())
        if local is not None:  # served by this process on loopback (the demo)
            return await self._inner.connect_tcp(local[0], local[1], timeout=timeout,
                                                 socket_options=socket_options)
        if self._allow_private:
            addresses = await policy.addresses(host, port)
        else:
            addresses = await policy.public_addresses(host, port)
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # the resolver's order (RFC 6724), one after the other
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure or httpcore.ConnectError(f"{host} has no address")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("sources are never read from Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool that opens sockets with _CheckedBackend.

    httpx has no public parameter for httpcore's network backend, so the pool is built here with
    the arguments AsyncHTTPTransport would give it; everything else (request and response mapping,
    exception mapping) is httpx's. An explicit transport also means environment proxies
    (HTTP_PROXY, ...) are not used: a proxy would resolve names where the policy cannot see."""

    def __init__(self, *, limits: httpx.Limits, allow_private: bool,
                 local_sites: Mapping[str, tuple[str, int]] | None = None) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls_context(),  # a poll run makes a Fetcher each time
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedBackend(allow_private, local_sites),
        )


class Fetcher:
    def __init__(self, settings: Settings, *, client: httpx.AsyncClient | None = None,
                 local_sites: Mapping[str, tuple[str, int]] | None = None) -> None:
        self.timeout = settings.http_timeout_seconds
        self.max_bytes = settings.http_max_bytes
        self.max_redirects = settings.http_max_redirects
        self._per_host = settings.http_per_host_concurrency
        self._slots: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self._per_host))
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout)),
            headers={"User-Agent": settings.http_user_agent, "Accept": _ACCEPT,
                     "Accept-Encoding": "gzip, deflate"},
            transport=_CheckedTransport(
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
                allow_private=settings.allow_private_sources, local_sites=local_sites),
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    def _slot(self, url: str) -> asyncio.Semaphore:
        parts = urlsplit(url)
        return self._slots[f"{(parts.hostname or '').lower()}:{parts.port or ''}"]

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None) -> FetchResult:
        """GET `url`, following redirects; never raises for anything the network or server does."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen = [url]
        permanent_url: str | None = None
        all_permanent = True
        current = url
        deadline: float | None = None
        try:
            while True:
                async with self._slot(current):
                    if deadline is None:  # time spent queueing for the host does not count
                        deadline = asyncio.get_running_loop().time() + self.timeout
                    async with asyncio.timeout_at(deadline):
                        result = await self._get(current, headers)
                if isinstance(result, FetchResult):
                    result.permanent_url = permanent_url
                    return result
                status, location = result
                target = urljoin(current, location)
                if urlsplit(target).scheme not in ("http", "https"):
                    raise _Failure(f"redirected to a non-HTTP address {target!r}")
                if target in seen:
                    raise _Failure("redirect loop: " + " → ".join([*seen, target]))
                if len(seen) > self.max_redirects:
                    raise _Failure(f"too many redirects (more than {self.max_redirects})")
                all_permanent = all_permanent and status in PERMANENT
                if all_permanent:
                    permanent_url = target
                seen.append(target)
                current = target
        except _Failure as exc:
            return FetchResult(url=current, status="error", error=str(exc),
                               permanent_url=permanent_url)
        except policy.SourceRefused as exc:
            return FetchResult(url=current, status="error", error=exc.reason, refused=True,
                               permanent_url=permanent_url)
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError,
                ValueError) as exc:
            return FetchResult(url=current, status="error",
                               error=_describe(exc, current, self.timeout),
                               permanent_url=permanent_url)

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult | tuple[int, str]:
        """One request: a final result, or (status, Location) for a redirect."""
        request = self.client.build_request("GET", url, headers=headers)
        response = await self.client.send(request, stream=True)
        try:
            code = response.status_code
            if code in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise _Failure(f"HTTP {code} redirect without a Location header")
                await self._drain(response)
                return code, location
            if code == 304:
                await self._drain(response)
                return FetchResult(url=url, status="unchanged", http_status=code)
            if code >= 400:
                phrase = response.reason_phrase or ""
                raise _Failure(f"the server answered HTTP {code} {phrase}".rstrip())
            if code != 200:
                raise _Failure(f"unexpected HTTP status {code}")
            body = await self._read(response)
            return FetchResult(
                url=url, status="ok" if body.strip() else "unchanged", body=body,
                http_status=code, content_type=response.headers.get("content-type", ""),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        finally:
            await response.aclose()

    @staticmethod
    async def _drain(response: httpx.Response) -> None:
        """Read a short body to its end, so the connection can serve the next request."""
        received = 0
        async for raw in response.aiter_raw(_CHUNK):
            received += len(raw)
            if received > _DRAIN_LIMIT:
                return

    async def _read(self, response: httpx.Response) -> bytes:
        cap = self.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _Failure(f"the response is {int(declared):,} bytes, over the {cap:,}-byte cap")
        decoder = _Decoder(response.headers.get("content-encoding", ""))
        received = 0
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw(_CHUNK):
            received += len(raw)
            if received > cap:
                raise _Failure(f"the response is over the {cap:,}-byte cap")
            for piece in decoder.feed(raw, cap - size):
                size += len(piece)
                if size > cap:
                    raise _Failure(
                        f"the response decompresses to more than the {cap:,}-byte cap"
                        " (compression bomb?)")
                chunks.append(piece)
        decoder.finish()
        return b"".join(chunks)
