"""A TCP proxy that plays the network's faults, between the service and PostgreSQL
or between a browser and the service.

`silence(app)` drops the bytes of one application's open connections both
ways and closes nothing, as a partition or a dead NAT entry would; `cut()`
is an outage as the service sees one: every open connection is reset and
new ones are refused until `restore()`. `stall()` is a path that accepts a
connection and then never answers (a firewall that drops, a hung server):
every new connection until `restore()` hangs, and stays hung after it. PostgreSQL itself keeps running, so
the test's own connection (direct, not through the proxy) still works.
`pause()` stops reading what the server sends until `resume()`, as a slow
network would: with a small receive buffer the server's sends back up at once.
`WebSocketGate` is an HTTP proxy that refuses WebSocket upgrades while told to,
as some corporate proxies always do, and passes everything else.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class FaultProxy:
    """TCP proxy to PostgreSQL; see the module's docstring for the faults it plays."""

    def __init__(self, host: str, port: int, *, receive_buffer: int | None = None) -> None:
        self._target = (host, port)
        self._receive_buffer = receive_buffer
        self._flowing = threading.Event()
        self._flowing.set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._connections: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._down = False
        self._stalling = False
        self._stalled: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def silence(self, application_name: str) -> int:
        """Silence the open connections of this application; how many there were."""
        with self._lock:
            hit = [c for c in self._connections if c["app"] == application_name.encode()]
            for connection in hit:
                connection["silent"] = True
        return len(hit)

    def cut(self) -> int:
        """Reset every open connection and refuse new ones; how many were open."""
        with self._lock:
            self._down = True
            open_now, self._connections = self._connections, []
        for connection in open_now:
            for sock in connection["sockets"]:
                _reset(sock)
        return len(open_now)

    def pause(self) -> None:
        """Stop reading from the server (the client's side still flows)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def stall(self) -> None:
        """Accept new connections and never answer them (until `restore()`)."""
        with self._lock:
            self._down, self._stalling = False, True

    def restore(self) -> None:
        """Accept and forward new connections again."""
        with self._lock:
            self._down = self._stalling = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                down, stalling = self._down, self._stalling
                if stalling:
                    self._stalled.append(client)  # held open, never read nor answered
                    continue
            if down:
                _reset(client)  # refused, as by a server that is not there
                continue
            try:
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                if self._receive_buffer:
                    upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
                upstream.connect(self._target)
            except OSError:
                _reset(client)
                continue
            state: dict[str, Any] = {"app": b"", "silent": False, "sockets": (client, upstream)}
            with self._lock:
                self._connections.append(state)
            threading.Thread(target=self._pump, args=(client, upstream, state, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, state, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, state: dict[str, Any],
              from_client: bool) -> None:
        while True:
            if not from_client:
                self._flowing.wait()
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                with self._lock:
                    silent = state["silent"]
                if not silent:  # a silenced peer never learns of the close either
                    _reset(dst)
                return
            if from_client and not state["app"]:
                # The startup packet (after libpq's SSL request, refused here in clear
                # text) names the application.
                found = re.search(rb"application_name\x00([^\x00]*)\x00", data)
                if found:
                    state["app"] = found.group(1)
            with self._lock:
                silent = state["silent"]
            if silent:
                continue  # dropped: no error, no close, nothing arrives
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._server.close()
        for sock in self._stalled:
            _reset(sock)


def _through(database_url: str, port: int) -> str:
    """The same database at 127.0.0.1:port, in the form it was given (URL or key=value)."""
    if not database_url.startswith(("postgresql://", "postgres://")):
        return make_conninfo(database_url, host="127.0.0.1", port=str(port))
    parts = urlsplit(database_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a dead peer's kernel answers.

    A pump thread blocked in recv() holds the socket: close() alone would
    release it (and send the RST) only when something arrived, so a client
    waiting for PostgreSQL's answer to its startup packet would wait forever.
    shutdown(SHUT_RD) wakes that recv() first, and sends nothing itself."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RD)
        sock.close()
    except OSError:
        pass


@contextmanager
def proxied(database_url: str) -> Iterator[tuple[FaultProxy, str]]:
    """A proxy in front of this database, and the URL that goes through it."""
    params = conninfo_to_dict(database_url)
    proxy = FaultProxy(str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432))
    try:
        yield proxy, _through(database_url, proxy.port)
    finally:
        proxy.close()


class WebSocketGate:
    """An HTTP proxy in front of the service that, while `blocking`, refuses every WebSocket
    upgrade with HTTP 403 (as a corporate proxy does; a browser sees the socket fail with
    1006) and passes every other request, streams included. `block()` also cuts the
    upgraded connections that are open. Chromium never sends an upgrade on a reused
    keep-alive connection, so the first request of each connection is all it reads."""

    def __init__(self, host: str, port: int, *, blocking: bool = False) -> None:
        self._target = (host, port)
        self.blocking = blocking
        self.refused = 0  # upgrades refused
        self._upgraded: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def block(self) -> None:
        """Refuse upgrades from now on, and cut the sockets already upgraded."""
        with self._lock:
            self.blocking = True
            upgraded, self._upgraded = self._upgraded, []
        for pair in upgraded:
            for sock in pair:
                # shutdown first: a close alone waits for the pump thread's blocked recv.
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                _reset(sock)

    def allow(self) -> None:
        with self._lock:
            self.blocking = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(65536)
                if not chunk:
                    client.close()
                    return
                head += chunk
        except OSError:
            client.close()
            return
        upgrade = re.search(rb"^upgrade:\s*websocket\s*$", head, re.IGNORECASE | re.MULTILINE)
        with self._lock:
            refuse = bool(upgrade) and self.blocking
            if refuse:
                self.refused += 1
        if refuse:
            with suppress(OSError):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: 20\r\nConnection: close\r\n\r\n"
                               b"WebSockets blocked\r\n")
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            return
        try:
            upstream = socket.create_connection(self._target)
            upstream.sendall(head)
        except OSError:
            _reset(client)
            return
        if upgrade:
            with self._lock:
                self._upgraded.append((client, upstream))
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                with suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._server.close()
