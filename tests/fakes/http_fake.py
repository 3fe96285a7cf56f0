"""What the fake chat-platform servers (tests/fakes/telegram_api.py, zalo_api.py) share: a
threaded stdlib HTTP server on 127.0.0.1 with its life cycle, the sliding-window accounting of
accepted sends, waiting for a chat's messages, the control API that lets another process drive a
fake, and the standalone entry point. Each platform's fake adds only its wire format and rules.

Hand-written rather than a web framework: the fakes must answer byte for byte like the platforms
(status lines, keep-alive, cut connections), which a framework would hide.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

from tests.waiting import PATIENCE

ChatId = TypeVar("ChatId", bound=Hashable)
Record = TypeVar("Record")


def max_in_window(times: Iterable[float], window: float) -> int:
    """The most events in any half-open window [t, t + window)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class SlidingWindows(Generic[ChatId]):
    """Accepted sends as (arrival, chat), and the limit windows a fake may hold over them.

    Not thread-safe by itself: the fake calls it under its own lock."""

    def __init__(self) -> None:
        self.log: list[tuple[float, ChatId]] = []
        self._windows: dict[Hashable, collections.deque[float]] = collections.defaultdict(
            collections.deque)

    def record(self, now: float, chat: ChatId) -> None:
        self.log.append((now, chat))

    def over(self, now: float, limits: Iterable[tuple[Hashable, float, int]]) -> float | None:
        """None when a send now stays within every (window key, seconds, most sends) limit;
        otherwise how long until the oldest send of the first full window leaves it."""
        for key, window, limit in limits:
            times = self._windows[key]
            while times and now - times[0] >= window:
                times.popleft()
            if len(times) >= limit:
                return times[0] + window - now
        return None

    def count(self, now: float, keys: Iterable[Hashable]) -> None:
        """Count a send admitted under `over` in each of these windows."""
        for key in keys:
            self._windows[key].append(now)

    def times(self, chat: ChatId | None = None) -> list[float]:
        return [t for t, c in self.log if chat is None or c == chat]

    def peaks(self, is_group: Callable[[ChatId], bool],
              private_window: float = 1.0) -> tuple[int, int, int, int]:
        """(chats, most sends in any 1 s, most to one private chat in any `private_window`,
        most to one group in any 60 s), to check pacing after the fact."""
        per_chat: dict[ChatId, list[float]] = collections.defaultdict(list)
        for t, chat in self.log:
            per_chat[chat].append(t)
        private = [max_in_window(ts, private_window) for c, ts in per_chat.items()
                   if not is_group(c)]
        groups = [max_in_window(ts, 60.0) for c, ts in per_chat.items() if is_group(c)]
        return (len(per_chat), max_in_window((t for t, _ in self.log), 1.0),
                max(private, default=0), max(groups, default=0))


class FakeHandler(BaseHTTPRequestHandler):
    """A request handler of a fake: keep-alive HTTP/1.1, no Nagle delay, no access log, and
    its connection known to the fake so that `stop()` can cut kept-alive ones."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a response's head and body may go out as two writes

    @property
    def fake(self) -> Any:
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a benchmark sends tens of thousands of requests


class FakeServer(Generic[ChatId, Record]):
    """A fake platform API on 127.0.0.1, served from daemon threads, so sync and async tests (and
    a bot in another process) talk to it over real sockets. Use `with Fake() as fake:` or
    `start()`/`stop()`. Subclasses set `handler`, `control_methods` and the inspection hooks."""

    handler: type[FakeHandler]
    thread_name = "fake-api"
    # What `POST /_fake/<name>` may call, with a JSON object of keyword arguments;
    # `GET /_fake/state` answers `state()`.
    control_methods: frozenset[str] = frozenset()

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # notified on every change worth waiting on
        self._stopping = False
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self.windows: SlidingWindows[ChatId] = SlidingWindows()

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> Self:
        server = ThreadingHTTPServer((self._host, self._port), self.handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._stopping = False
        # A short poll interval so that stop() (and each test's teardown) is quick.
        serve = functools.partial(server.serve_forever, poll_interval=0.02)
        for target in (serve, *self._workers()):
            thread = threading.Thread(target=target, name=self.thread_name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _workers(self) -> Sequence[Callable[[], None]]:
        """Loops to run in threads of their own beside the server; they end on `_stopping`."""
        return ()

    def stop(self) -> None:
        if not self._server:
            return
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        # Kept-alive connections would otherwise go on being served by their threads.
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    # --- inspection ------------------------------------------------------------------------

    def _chat_key(self, chat_id: Any) -> ChatId:
        """A chat id as the platform's records hold it."""
        raise NotImplementedError

    def messages_for(self, chat_id: Any) -> list[Record]:
        raise NotImplementedError

    def _preview(self, record: Record) -> str:
        """A record, shortened, for a failed wait's message."""
        raise NotImplementedError

    def _recent_errors(self, chat_id: ChatId) -> list[Any]:
        return []

    def send_times(self, chat_id: Any = None) -> list[float]:
        """Monotonic arrival times of accepted sends (of one chat, or all)."""
        with self._lock:
            return self.windows.times(None if chat_id is None else self._chat_key(chat_id))

    def wait_for_messages(
        self, chat_id: Any, n: int = 1, timeout: float = PATIENCE
    ) -> list[Record] | Awaitable[list[Record]]:
        """Wait until chat `chat_id` has at least `n` records and return them all.
        Blocks in sync code; inside a running event loop it returns an awaitable instead, so the
        bot under test keeps running: `await fake.wait_for_messages(chat, 2)`."""
        key = self._chat_key(chat_id)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._wait_sync(key, n, timeout)
        return self._wait_async(key, n, timeout)

    def _wait_sync(self, chat_id: ChatId, n: int, timeout: float) -> list[Record]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.messages_for(chat_id)
                if len(found) >= n:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timeout(chat_id, n, found, timeout)
                self._changed.wait(remaining)

    async def _wait_async(self, chat_id: ChatId, n: int, timeout: float) -> list[Record]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages_for(chat_id)
            if len(found) >= n:
                return found
            if time.monotonic() > deadline:
                raise self._timeout(chat_id, n, found, timeout)
            await asyncio.sleep(0.01)

    def _timeout(self, chat_id: ChatId, n: int, found: list[Record],
                 timeout: float) -> TimeoutError:
        return TimeoutError(
            f"chat {chat_id}: {len(found)} of {n} messages within {timeout}s; "
            f"got {[self._preview(r) for r in found]}; errors {self._recent_errors(chat_id)}")

    def state(self) -> dict[str, Any]:
        """Everything recorded, as JSON (for the control API)."""
        raise NotImplementedError

    # --- control API -----------------------------------------------------------------------

    def control(self, name: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer `/_fake/<name>`: (HTTP status, JSON body)."""
        if name == "state":
            return 200, self.state()
        if name not in self.control_methods:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": self._control_call(name, params)}

    def _control_call(self, name: str, params: dict[str, Any]) -> Any:
        return getattr(self, name)(**params)


def run_standalone(fake: FakeServer[Any, Any], ready: str) -> None:
    """Serve `fake` until interrupted, after printing `<ready> port=N` for the parent process."""
    fake.start()
    print(f"{ready} port={fake.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
