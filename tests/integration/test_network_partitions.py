"""A connection whose network path goes silent (no reset, no close) is found and replaced.

A partition or a dead NAT entry leaves a TCP connection that neither errors
nor delivers: an unbounded round trip would wait for the kernel's
retransmissions, a quarter of an hour. Here the service talks to PostgreSQL
through a proxy that can silence one of its connections (bytes dropped both
ways, nothing closed) while every other connection and every new one flows:
the LISTEN connection (NOTIFYs stop arriving), and the sequencer's (which
also holds the sequencer lock, so nothing would be numbered or announced
again until the server let go of it).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.hostdata import add_post, add_user, react
from tests.integration.ws_client import connect, recv_json
from tests.servers import running_service
from tests.tokens import make_token

pytestmark = pytest.mark.timeout(120)


class SilencingProxy:
    """TCP proxy to PostgreSQL that can silence the open connections whose startup packet
    names an application (the listener's), as a partition would; later ones flow."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._connections: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def silence(self, application_name: str) -> int:
        """Silence the open connections of this application; how many there were."""
        with self._lock:
            hit = [c for c in self._connections if c["app"] == application_name.encode()]
            for connection in hit:
                connection["silent"] = True
        return len(hit)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            state: dict[str, Any] = {"app": b"", "silent": False}
            with self._lock:
                self._connections.append(state)
            threading.Thread(target=self._pump, args=(client, upstream, state, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, state, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, state: dict[str, Any],
              from_client: bool) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
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


@contextmanager
def proxied(database_url: str) -> Iterator[tuple[SilencingProxy, str]]:
    params = conninfo_to_dict(database_url)
    proxy = SilencingProxy(str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432))
    try:
        yield proxy, make_conninfo(database_url, host="127.0.0.1", port=str(proxy.port))
    finally:
        proxy.close()


async def test_a_silent_listen_connection_is_replaced_and_nothing_is_missed(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    owner, actor = add_user(conn, "partitioned"), add_user(conn, "actor")
    post = add_post(conn, owner)
    env = {"NOTIFICATIONS_LISTENER_PROBE_INTERVAL": "1", "NOTIFICATIONS_LISTENER_PROBE_TIMEOUT": "1"}
    with proxied(database_url) as (proxy, url), running_service(url, env=env) as svc:
        token = make_token(owner, svc.secret)
        async with connect(f"{svc.ws_url}?token={token}&since=0") as ws:
            assert (await recv_json(ws))["type"] == "hello"
            react(conn, post, actor, "before")  # the live path works
            assert (await recv_json(ws, timeout=30))["notification"]["emoji"] == "before"
            assert proxy.silence("notifications-listener") == 1
            react(conn, post, actor, "during")  # its NOTIFY goes into the silent path
            started = time.monotonic()
            try:
                message = await recv_json(ws, timeout=60)
            except TimeoutError:
                raise AssertionError(svc.log_text()[-3000:]) from None
            assert message["type"] == "notification", message
            assert message["notification"]["emoji"] == "during"
            # Found within the probe's interval and timeout, plus psycopg's own bounded
            # cancellation of the unanswered probe (5 s, then 5 s more before it closes).
            assert time.monotonic() - started < 55
        metrics = httpx.get(svc.base_url + "/metrics", timeout=10).text
        reconnects = re.search(r'notifications_listener_reconnects_total\{pid="\d+"\} (\d+)', metrics)
        assert reconnects is not None and int(reconnects.group(1)) >= 1, metrics[-800:]
        log = svc.log_text()
        assert "LISTEN connection lost (OperationalError)" in log, log[-2000:]
        assert "LISTEN connection re-established" in log


async def test_a_silent_sequencer_connection_gives_up_the_lead_and_nothing_is_missed(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    owner, actor = add_user(conn, "partitioned"), add_user(conn, "actor")
    post = add_post(conn, owner)
    env = {"NOTIFICATIONS_SEQUENCER_TIMEOUT": "2"}
    with proxied(database_url) as (proxy, url), running_service(url, env=env) as svc:
        token = make_token(owner, svc.secret)
        async with connect(f"{svc.ws_url}?token={token}&since=0") as ws:
            assert (await recv_json(ws))["type"] == "hello"
            react(conn, post, actor, "before")
            assert (await recv_json(ws, timeout=30))["notification"]["emoji"] == "before"
            assert proxy.silence("notifications-sequencer") == 1
            # Committed while the lock's holder cannot be reached: only once the server
            # ends that session can anyone (here the same process, reconnected) lead.
            react(conn, post, actor, "during")
            started = time.monotonic()
            try:
                message = await recv_json(ws, timeout=60)
            except TimeoutError:
                raise AssertionError(svc.log_text()[-3000:]) from None
            assert message["type"] == "notification", message
            assert message["notification"]["emoji"] == "during"
            assert message["position"] == 2, message
            assert time.monotonic() - started < 55
        log = svc.log_text()
        assert "sequencer connection lost (OperationalError)" in log, log[-2000:]
        assert log.count("this process is now the sequencer") == 2, log[-2000:]
    # The silenced session ended on the server (the proxy still holds its socket open):
    # nothing of ours is left holding the lock once the service has stopped.
    holders = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'notifications-sequencer'"
    ).fetchone()
    assert holders is not None and holders[0] == 0
