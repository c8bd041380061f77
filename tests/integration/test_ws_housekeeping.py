"""Closing sockets: idle, expired tokens, foreign origins, silent clients and slow readers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from websockets.exceptions import ConnectionClosed

from devkit.hostdata import add_post, add_user, comment
from devkit.scrape import scrape
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.integration.ws_client import close_code, connect, recv_json

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def strict_service(database_url: str) -> Iterator[ServiceProcess]:
    """A service with a short idle timeout, a tiny socket queue and an Origin allow-list."""
    with running_service(database_url, env={
        "NOTIFICATIONS_WS_IDLE_TIMEOUT": "1.5",
        "NOTIFICATIONS_WS_QUEUE_SIZE": "16",
        "NOTIFICATIONS_ALLOWED_ORIGINS": "https://art.example, https://www.art.example",
    }) as svc:
        yield svc


async def test_idle_socket_closes_4408_and_ping_keeps_it_open(
        strict_service: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """A silent socket is closed with 4408; one that pings stays open past the timeout."""
    user = add_user(conn, "idle")
    url = f"{strict_service.ws_url}?token={make_token(user, strict_service.secret)}"
    headers = {"Origin": "https://art.example"}
    async with connect(url, additional_headers=headers) as pinger, \
            connect(url, additional_headers=headers) as silent:
        await recv_json(pinger)
        await recv_json(silent)
        started = time.monotonic()
        for _ in range(4):
            await asyncio.sleep(0.6)
            await pinger.send("ping")
            assert await asyncio.wait_for(pinger.recv(), 5) == "pong"
        assert await close_code(silent) == 4408
        assert time.monotonic() - started >= 1.4
        await pinger.send("ping")
        assert await asyncio.wait_for(pinger.recv(), 5) == "pong"


async def test_expired_token_closes_4401(strict_service: ServiceProcess,
                                         conn: psycopg.Connection[Any]) -> None:
    """A socket whose token expires while open is closed with 4401."""
    user = add_user(conn, "expiring")
    token = make_token(user, strict_service.secret, ttl=2)
    async with connect(f"{strict_service.ws_url}?token={token}",
                       additional_headers={"Origin": "https://art.example"}) as ws:
        await recv_json(ws)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - started < 30:  # ping so that it never goes idle
                await ws.send("ping")
                assert await asyncio.wait_for(ws.recv(), 10) == "pong"
                await asyncio.sleep(0.4)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        # Not before the token's expiry; the upper bound only rules out "never".
        assert 1.0 <= time.monotonic() - started <= 25


async def test_foreign_origin_closes_4403(strict_service: ServiceProcess,
                                          conn: psycopg.Connection[Any]) -> None:
    """An Origin outside the allow-list (or none) is refused with 4403 before any data."""
    token = make_token(add_user(conn, "o"), strict_service.secret)
    for headers in ({"Origin": "https://evil.example"}, {}):
        async with connect(f"{strict_service.ws_url}?token={token}",
                           additional_headers=headers) as ws:
            assert await close_code(ws) == 4403


async def test_no_auth_message_closes_4408(strict_service: ServiceProcess) -> None:
    """A client that never authenticates is closed with 4408 after 3 seconds."""
    async with connect(strict_service.ws_url,
                       additional_headers={"Origin": "https://art.example"}) as ws:
        started = time.monotonic()
        assert await close_code(ws, timeout=30) == 4408
        assert 2.8 <= time.monotonic() - started < 25  # not before the 3 s; the rest: load


def raw_socket_that_never_reads(port: int, token: str) -> socket.socket:
    """A WebSocket handshake over a socket with a tiny receive buffer that is never read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        f"GET /api/notifications/ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: https://art.example\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert sock.recv(1024).startswith(b"HTTP/1.1 101")
    return sock


def send_raw_ping(sock: socket.socket) -> None:
    """Send a masked text frame `ping` (clients must mask), so the socket never goes idle."""
    mask = os.urandom(4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"ping"))
    sock.sendall(bytes([0x81, 0x80 | 4]) + mask + payload)


async def recv_skipping_pongs(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout)
        if raw != "pong":
            message: dict[str, Any] = json.loads(raw)
            return message


async def receive_burst(ws: Any, position: int, count: int) -> int:
    """Read the `count` notifications of one burst, positions one apart; the last position.

    Stops waiting a second after the last message (the idle timeout is 1.5 s),
    so a burst that never arrives in full fails here, by count.
    """
    shown = 0
    while shown < count:
        try:
            message = await recv_skipping_pongs(ws, timeout=1.0)
        except TimeoutError:
            break
        assert (message["type"], message["position"]) == ("notification", position + 1)
        position += 1
        shown += len(message.get("notifications") or [message["notification"]])
    assert shown == count, f"{shown} of the burst's {count} notifications reached the socket"
    return position


async def test_slow_client_is_closed_4409_and_others_keep_receiving(
        strict_service: ServiceProcess, conn: psycopg.Connection[Any]) -> None:
    """A client that never reads is cut off with 4409; a reading client of the same user gets all."""
    owner = add_user(conn, "owner")
    # A long art_url makes every message ~1.3 kB, so the slow socket's buffers fill quickly.
    post = add_post(conn, owner, art_url="https://art.example/" + "a" * 980)
    token = make_token(owner, strict_service.secret)
    slow = raw_socket_that_never_reads(strict_service.port, token)
    try:
        async with connect(f"{strict_service.ws_url}?token={token}",
                           additional_headers={"Origin": "https://art.example"}) as fast:
            await recv_json(fast)
            position = 0
            for burst in range(60):
                await fast.send("ping")
                send_raw_ping(slow)
                # A new actor per burst: the database caps notifications per actor per hour.
                actor = add_user(conn, f"actor{burst}")
                # One host statement of 100 reactions: all 100 must reach the reading socket.
                conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                             " SELECT %s, %s, 'e' || g FROM generate_series(1, 100) g",
                             (post, actor))
                position = await receive_burst(fast, position, 100)
                metrics = await asyncio.to_thread(_metrics, strict_service)
                if _value(metrics, "notifications_ws_slow_client_closes_total") >= 1:
                    break
            metrics = await asyncio.to_thread(_metrics, strict_service)
            assert _value(metrics, "notifications_ws_slow_client_closes_total") == 1
            assert _value(metrics, "notifications_ws_open_sockets") == 1
            comment(conn, post, add_user(conn, "last"), "after the slow one left")
            assert (await recv_skipping_pongs(fast))["position"] == position + 1
    except Exception:
        print(strict_service.log_text()[-3000:])
        raise
    finally:
        slow.close()


def _metrics(svc: ServiceProcess) -> dict[str, float]:
    return scrape(svc.base_url)


def _value(metrics: dict[str, float], name: str) -> float:
    assert name in metrics, f"{name} not in metrics"
    return metrics[name]


def test_cors_follows_the_origin_allow_list(strict_service: ServiceProcess) -> None:
    """Pages on an allowed origin may call the API from the browser; other origins may not."""
    import httpx

    url = strict_service.base_url + "/api/notifications/unread-count"
    preflight = {"Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(url, headers={"Origin": "https://art.example", **preflight})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://art.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = httpx.options(url, headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers
