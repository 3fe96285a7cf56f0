"""A TCP proxy on 127.0.0.1 that can cut the line: a database outage the application really sees.

    with TcpProxy(("127.0.0.1", 5432)) as proxy:   # the app connects to proxy.port instead
        proxy.cut()      # every open connection drops; new ones are accepted and closed at once
        proxy.restore()  # connections go through again

Threads and blocking sockets, so it keeps forwarding whatever the test's event loop is doing;
`ProxyProcess` runs it in a process of its own, for heavy traffic. A cut connection is shut down
in both directions, which is what a crashed or restarting server
looks like to a client. Written by hand: no library does "cut every connection now" on demand.
"""

from __future__ import annotations

import multiprocessing
import socket
import threading
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Self

_BUFFER = 65536


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.accepted = 0  # connections forwarded
        self.refused = 0  # connections closed at once because the line was cut
        self._open = True
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until `restore`."""
        with self._lock:
            self._open = False
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def stop(self) -> None:
        self.cut()
        _close(self._listener)
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    # --- forwarding -----------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                is_open = self._open
                if not is_open:
                    self.refused += 1
            if not is_open:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
                # Forward each write at once: Nagle's algorithm against the peer's delayed ACKs
                # would hold small messages back for up to 40 ms each.
                for sock in (client, upstream):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if not self._open:  # cut while we were connecting
                    self.refused += 1
                    _close(client)
                    _close(upstream)
                    continue
                self.accepted += 1
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_BUFFER):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class ProxyProcess:
    """The same proxy in a process of its own, so forwarding never waits for the test's GIL
    (on a busy test process, every database round trip would otherwise queue behind it)."""

    def __init__(self, target: tuple[str, int]) -> None:
        context = multiprocessing.get_context("spawn")  # the test process has threads: no fork
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(target, child), daemon=True,
                                        name="tcp-proxy")
        self._process.start()
        self.port: int = self._conn.recv()

    def _ask(self, command: str) -> int:
        self._conn.send(command)
        return int(self._conn.recv())

    def cut(self) -> None:
        self._ask("cut")

    def restore(self) -> None:
        self._ask("restore")

    @property
    def refused(self) -> int:
        return self._ask("refused")

    def stop(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
        self._process.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def _serve(target: tuple[str, int], conn: Connection) -> None:
    proxy = TcpProxy(target).start()
    conn.send(proxy.port)
    while True:
        command = conn.recv()
        if command == "cut":
            proxy.cut()
        elif command == "restore":
            proxy.restore()
        elif command == "stop":
            proxy.stop()
            conn.send(0)
            return
        conn.send(proxy.refused)
