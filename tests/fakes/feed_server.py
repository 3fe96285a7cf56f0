"""A news portal on 127.0.0.1 for tests and benchmarks: a threaded stdlib HTTP/1.1 server that
serves registered bytes with chosen headers, and misbehaves on request (redirect loops, gzip
bombs, slow drip, errors). Real sockets; nothing is mocked."""

from __future__ import annotations

import gzip
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up (a fetch we cut short on purpose) is not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # answer 304 to a matching If-None-Match
    last_modified: str | None = None  # answer 304 to a matching If-Modified-Since
    gzip: bool = False  # compress the body and say so
    chunked: bool = False  # no Content-Length: the client only learns the size by reading
    delay: float = 0.0  # hold the answer this long (to observe concurrency)
    drip: float | None = None  # send the body one byte per `drip` seconds
    declared_length: int | None = None  # lie about Content-Length


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about 1000:1), built without holding them in memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    out = []
    for _ in range(size // len(block)):
        out.append(compressor.compress(block))
    out.append(compressor.flush())
    return b"".join(out)


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # --- set-up ---------------------------------------------------------------------------
    def add(self, path: str, body: bytes | str = b"", **options: object) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 301) -> str:
        self.routes[path] = Route(status=status, headers={"Location": to})
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if path in (p, p.split("?")[0]))

    def last_headers(self, path: str) -> dict[str, str]:
        with self._lock:
            return next(h for p, h in reversed(self.requests) if path in (p, p.split("?")[0]))

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._serve(self)

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- answering ------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            self.requests.append((path, {k.lower(): v for k, v in handler.headers.items()}))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._answer(handler, path)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with self._lock:
                self.active -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        route = self.routes.get(path) or self.routes.get(path.split("?")[0])
        if route is None:
            self._send(handler, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.delay:
            time.sleep(route.delay)
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        inm = handler.headers.get("If-None-Match")
        ims = handler.headers.get("If-Modified-Since")
        if (route.etag and inm == route.etag) or (
                route.last_modified and ims == route.last_modified and not route.etag):
            self._send(handler, 304, b"", {k: v for k, v in headers.items()
                                          if k in ("ETag", "Last-Modified")})
            return
        body = route.body
        if route.gzip:
            body = body if body[:2] == b"\x1f\x8b" else gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.drip is not None:
            self._drip(handler, route, headers, body)
            return
        self._send(handler, route.status, body, headers, chunked=route.chunked,
                   declared_length=route.declared_length)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
              headers: dict[str, str], *, chunked: bool = False,
              declared_length: int | None = None) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if status in (204, 304):
            handler.end_headers()
            return
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for start in range(0, len(body), 65536):
                piece = body[start:start + 65536]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.write(b"0\r\n\r\n")
            return
        handler.send_header("Content-Length", str(declared_length or len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    @staticmethod
    def _drip(handler: BaseHTTPRequestHandler, route: Route, headers: dict[str, str],
              body: bytes) -> None:
        handler.send_response(route.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.flush()
        for index in range(len(body)):
            handler.wfile.write(body[index:index + 1])
            handler.wfile.flush()
            time.sleep(route.drip or 0)
        handler.close_connection = True
