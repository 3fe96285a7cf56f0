"""Loa's small HTTP server for Zalo: the webhook Zalo POSTs to, and the files Zalo fetches by URL.

Zalo sends photos only by URL, so a chart PNG is kept in a `MediaStore` and served at
`<PUBLIC_BASE_URL>/media/<random name>.png`. The server is aiohttp's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

MEDIA_PREFIX = "/media/"
WEBHOOK_PATH = "/zalo/webhook"
MAX_BODY = 1 << 20  # a Zalo event is a few hundred bytes


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


WebhookHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpServer:
    """Serves `POST /zalo/webhook` (when a handler is given) and `GET /media/<name>`, on
    aiohttp, the one HTTP server library Loa uses (web/server.py serves /healthz and /metrics
    with it too). Bodies over MAX_BODY get 413, another method 405, an unknown path 404."""

    def __init__(self, host: str, port: int, *, media: MediaStore | None,
                 webhook: WebhookHandler | None) -> None:
        self.host, self.port = host, port
        self.media = media
        self.webhook = webhook
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        application = web.Application(client_max_size=MAX_BODY)
        if self.webhook is not None:
            application.router.add_post(WEBHOOK_PATH, self._webhook)
        application.router.add_get(MEDIA_PREFIX + "{name}", self._media)
        runner = web.AppRunner(application, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        # The real port when 0 was asked.
        self.port = next((int(a[1]) for a in runner.addresses if isinstance(a, tuple)),
                         self.port)
        log.info("Zalo HTTP server listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _webhook(self, request: web.Request) -> web.StreamResponse:
        assert self.webhook is not None  # the route exists only with a handler
        try:
            return await self.webhook(request)
        except web.HTTPException:
            raise
        except Exception:  # a handler bug must not kill the server
            log.exception("Zalo webhook handler failed")
            return web.Response(status=500, text="Internal Server Error")

    async def _media(self, request: web.Request) -> web.Response:
        found = self.media.get(request.match_info["name"]) if self.media is not None else None
        if found is None:
            raise web.HTTPNotFound()
        content_type, data = found
        return web.Response(body=data, headers={"Content-Type": content_type,
                                                "Cache-Control": "private, max-age=86400"})
