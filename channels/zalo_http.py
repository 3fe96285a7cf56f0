"""Loa's small HTTP server for Zalo: the webhook Zalo POSTs to, and the files Zalo fetches by URL.

Zalo sends photos only by URL, so a chart PNG is kept in a `MediaStore` and served at
`<PUBLIC_BASE_URL>/media/<random name>.png`. The server is plain asyncio streams (HTTP/1.1, one
request per connection): two routes do not justify a web framework dependency.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

log = logging.getLogger(__name__)

MEDIA_PREFIX = "/media/"
WEBHOOK_PATH = "/zalo/webhook"
MAX_BODY = 1 << 20  # a Zalo event is a few hundred bytes
MAX_HEADERS = 100
READ_TIMEOUT = 10.0


class MediaStore:
    """Files waiting to be fetched by URL, under unguessable names, for a limited time."""

    def __init__(self, public_base_url: str, *, ttl_seconds: float = 7 * 24 * 3600,
                 max_files: int = 1000) -> None:
        self.public_base_url = public_base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self.max_files = max_files
        self._files: OrderedDict[str, tuple[float, str, bytes]] = OrderedDict()
        self._key = secrets.token_bytes(32)  # names are unguessable, yet stable per content

    def put(self, data: bytes, suffix: str = ".png", content_type: str = "image/png") -> str:
        """Keep `data` and return its public URL. The same content gets the same URL (a keyed
        hash), so a retried send is recognised as the same message."""
        self._expire()
        digest = hmac.new(self._key, data + suffix.encode(), hashlib.sha256).digest()
        name = base64.urlsafe_b64encode(digest[:18]).decode() + suffix
        self._files[name] = (time.monotonic() + self.ttl_seconds, content_type, data)
        self._files.move_to_end(name)
        while len(self._files) > self.max_files:
            self._files.popitem(last=False)
        return f"{self.public_base_url}{MEDIA_PREFIX}{name}"

    def get(self, name: str) -> tuple[str, bytes] | None:
        self._expire()
        found = self._files.get(name)
        return (found[1], found[2]) if found else None

    def _expire(self) -> None:
        now = time.monotonic()
        while self._files:
            name, (expires, _, _) = next(iter(self._files.items()))
            if expires > now:
                break
            del self._files[name]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, text: str | None = None) -> Response:
        return cls(status, (text or HTTPStatus(status).phrase).encode())


WebhookHandler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    """Serves `POST /zalo/webhook` (when a handler is given) and `GET /media/<name>`."""

    def __init__(self, host: str, port: int, *, media: MediaStore | None,
                 webhook: WebhookHandler | None) -> None:
        self.host, self.port = host, port
        self.media = media
        self.webhook = webhook
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when 0 was asked
        log.info("Zalo HTTP server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head_only = False
            try:
                request = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT)
            except _BadRequest as exc:
                response = Response.text(exc.status)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return
            else:
                response = await self._route(request)
                head_only = request.method == "HEAD"
            await _write_response(writer, response, head_only=head_only)
        except ConnectionError:
            pass  # the client went away; nothing to answer
        finally:
            writer.close()

    async def _route(self, request: Request) -> Response:
        if request.path == WEBHOOK_PATH and self.webhook is not None:
            if request.method != "POST":
                return Response.text(405)
            try:
                return await self.webhook(request)
            except Exception:  # a handler bug must not kill the server
                log.exception("Zalo webhook handler failed")
                return Response.text(500)
        if request.path.startswith(MEDIA_PREFIX) and self.media is not None:
            if request.method not in ("GET", "HEAD"):
                return Response.text(405)
            found = self.media.get(request.path[len(MEDIA_PREFIX):])
            if found is None:
                return Response.text(404)
            content_type, data = found
            return Response(200, data, content_type, {"Cache-Control": "private, max-age=86400"})
        return Response.text(404)


class _BadRequest(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


async def _read_request(reader: asyncio.StreamReader) -> Request:
    try:
        line = (await reader.readuntil(b"\r\n")).decode("latin-1").rstrip("\r\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest(414) from None
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400)
    method, target = parts[0], parts[1]
    headers: dict[str, str] = {}
    while True:
        try:
            raw = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise _BadRequest(431) from None
        if raw == b"\r\n":
            break
        if len(headers) >= MAX_HEADERS or b":" not in raw:
            raise _BadRequest(431 if len(headers) >= MAX_HEADERS else 400)
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise _BadRequest(411)  # Zalo sends a Content-Length; chunked bodies are not needed
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadRequest(400) from None
    if length < 0:
        raise _BadRequest(400)
    if length > MAX_BODY:
        raise _BadRequest(413)
    body = await reader.readexactly(length) if length else b""
    return Request(method, target.split("?", 1)[0], headers, body)


async def _write_response(
    writer: asyncio.StreamWriter, response: Response, *, head_only: bool
) -> None:
    phrase = HTTPStatus(response.status).phrase
    headers = {
        "Content-Type": response.content_type,
        "Content-Length": str(len(response.body)),
        "Connection": "close",
    } | response.headers
    head = f"HTTP/1.1 {response.status} {phrase}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    writer.write(head.encode("latin-1") + b"\r\n" + (b"" if head_only else response.body))
    await writer.drain()
