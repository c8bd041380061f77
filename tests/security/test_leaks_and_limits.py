"""Tokens never reach the logs; Origins and sizes are enforced; the hourly cap holds end to end."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import httpx
import psycopg
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from devkit.hostdata import add_post, add_user, react, wait_until_sequenced
from devkit.servers import running_service
from devkit.stream import StreamClient, cancel_all, catch_up, verify_against_database
from devkit.tokens import make_token
from tests.reliability.test_dropped_clients import handshake, masked_frame_head, reset

pytestmark = pytest.mark.timeout(120)
API = "/api/notifications"
Conn = psycopg.Connection[Any]


async def closed_with(ws: Any) -> int | None:
    try:
        async with asyncio.timeout(8):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_tokens_are_never_logged_even_at_debug(database_url: str, conn: Conn,
                                                     log_format: str) -> None:
    """Tokens sent by query, subprotocol, message, header and path, and stream tickets, never
    appear in the service's output."""
    user = add_user(conn, "logged")
    env = {"NOTIFICATIONS_LOG_LEVEL": "debug", "NOTIFICATIONS_LOG_FORMAT": log_format}
    with running_service(database_url, env=env) as svc:
        valid = make_token(user, svc.secret)
        expired = make_token(user, svc.secret, ttl=-60)
        forged = make_token(user, "not-the-secret-but-long-enough-0123456789")
        by_message = make_token(user, svc.secret, purpose="message")
        by_protocol = make_token(user, svc.secret, purpose="protocol")
        opaque = "opaque-session-credential-7f3a9c2e5b1d"
        async with websockets.connect(f"{svc.ws_url}?token={valid}&since=0") as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
        for token in (expired, forged, opaque):
            async with websockets.connect(f"{svc.ws_url}?token={token}&since=0") as ws:
                with pytest.raises(ConnectionClosed) as refused:
                    await asyncio.wait_for(ws.recv(), 5)
                assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401
        async with websockets.connect(svc.ws_url, subprotocols=[
                "notifications.v1", f"bearer.{by_protocol}"]) as ws:  # type: ignore[list-item]
            assert json.loads(await ws.recv())["type"] == "hello"
        async with websockets.connect(svc.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": by_message}))
            assert json.loads(await ws.recv())["type"] == "hello"
            await ws.send(json.dumps({"type": "auth", "token": by_message}))  # an error, logged?
            assert json.loads(await ws.recv())["type"] == "error"
        async with httpx.AsyncClient(base_url=svc.base_url, timeout=10) as http:
            for token in (valid, expired, forged, opaque):
                await http.get(API + "/", headers={"Authorization": f"Bearer {token}"})
                await http.get(API + "/", params={"token": token})
                if token != opaque:  # a path is no place for a credential, but a JWT there is masked
                    await http.delete(f"{API}/{token}", headers={"Authorization": f"Bearer {valid}"})
                    await http.get(f"/no/such/path/{token}")
            # The event stream: by header, and by a ticket in the URL (twice: the second is spent).
            ticket = (await http.post(API + "/stream/ticket",
                                      headers={"Authorization": f"Bearer {valid}"})).json()["ticket"]
            for params, headers, status in (({}, {"Authorization": f"Bearer {valid}"}, 200),
                                            ({"ticket": ticket, "since": "0"}, {}, 200),
                                            ({"ticket": ticket}, {}, 401)):
                async with http.stream("GET", API + "/stream", params=params,
                                       headers=headers) as stream:
                    assert stream.status_code == status
        svc.stop()
        log = svc.log_text()
    assert "WebSocket /api/notifications/ws" in log  # the handshakes were logged, scrubbed
    for token in (valid, expired, forged, by_message, by_protocol, opaque, ticket):
        assert token not in log
    assert ticket.rsplit(".", 1)[1] not in log
    for jwt_token in (valid, expired, forged, by_message, by_protocol):
        assert jwt_token.rsplit(".", 1)[1] not in log, "a token's signature was logged"


HOSTILE_ORIGINS = [None, "null", "https://evil.example", "https://art.example.evil.example",
                   "https://art.example:8443", "http://art.example", "https://ART.EXAMPLE.",
                   "https://art.example/", "https://art.example, https://evil.example",
                   "https://xart.example"]


@pytest.mark.parametrize("how", ["query", "protocol", "message"])
async def test_origin_allow_list_holds_for_every_way_of_authenticating(
        database_url: str, conn: Conn, how: str) -> None:
    """Look-alike, missing or null Origins get 4403 and no data, however the token is sent."""
    user = add_user(conn, "origin")
    react(conn, add_post(conn, user), add_user(conn, "origin_actor"))
    with running_service(database_url, env={
            "NOTIFICATIONS_ALLOWED_ORIGINS": "https://art.example"}) as svc:
        token = make_token(user, svc.secret)
        url = f"{svc.ws_url}?token={token}&since=0" if how == "query" else svc.ws_url
        protocols = ["notifications.v1", f"bearer.{token}"] if how == "protocol" else None

        async def attempt(origin: str | None) -> tuple[list[str], int | None]:
            headers = {"Origin": origin} if origin is not None else {}
            received: list[str] = []
            async with websockets.connect(url, additional_headers=headers, origin=None,
                                          subprotocols=protocols) as ws:  # type: ignore[arg-type]
                if how == "message":
                    with contextlib_suppress():
                        await ws.send(json.dumps({"type": "auth", "token": token, "since": 0}))
                try:
                    async with asyncio.timeout(5):
                        async for raw in ws:
                            received.append(str(raw))
                except ConnectionClosed:
                    pass
                return received, ws.close_code

        for origin in HOSTILE_ORIGINS:
            received, code = await attempt(origin)
            assert (received, code) == ([], 4403), origin
        allowed = await asyncio.wait_for(_first_message(url, protocols, how, token), 5)
        assert allowed["type"] == "hello"


async def _first_message(url: str, protocols: list[str] | None, how: str, token: str) -> dict[str, Any]:
    async with websockets.connect(url, additional_headers={"Origin": "https://art.example"},
                                  subprotocols=protocols) as ws:  # type: ignore[arg-type]
        if how == "message":
            await ws.send(json.dumps({"type": "auth", "token": token}))
        message: dict[str, Any] = json.loads(await ws.recv())
        return message


def contextlib_suppress() -> Any:
    import contextlib

    return contextlib.suppress(ConnectionClosed)


async def test_body_and_message_size_limits(database_url: str, conn: Conn) -> None:
    """10 MB bodies (declared or chunked) get 413 on every write endpoint; huge frames close the socket."""
    user = add_user(conn, "limits")
    owner, actor = add_user(conn, "limits_owner"), add_user(conn, "limits_actor")
    post = add_post(conn, owner)
    with running_service(database_url) as svc:
        headers = {"Authorization": f"Bearer {make_token(user, svc.secret)}",
                   "content-type": "application/json"}
        big = b"[" + b'"' + b"a" * (10 * 2**20) + b'"]'

        async def chunks() -> Any:
            yield b"["
            for _ in range(160):
                yield b'"' + b"b" * 65536 + b'",'
            yield b'"c"]'

        async with httpx.AsyncClient(base_url=svc.base_url + API, timeout=30, headers=headers) as http:
            for method, path in (("POST", "/mark-read"), ("POST", "/mark-all-read"),
                                 ("PUT", "/preferences")):
                declared = await http.request(method, path, content=big)
                assert declared.status_code == 413, (method, path, declared.status_code)
                streamed = await http.request(method, path, content=chunks())
                assert streamed.status_code == 413, (method, path, streamed.status_code)
            assert (await http.get("/unread-count")).status_code == 200
        watcher = StreamClient(owner, svc.secret, [svc.ws_url])
        task = asyncio.create_task(watcher.run())
        try:
            await watcher.connected.wait()
            token = make_token(user, svc.secret)
            for size in (5000, 70_000, 10 * 2**20):
                async with websockets.connect(svc.ws_url, max_size=None) as ws:
                    await ws.send(json.dumps({"type": "auth", "token": token}))
                    await ws.recv()
                    with contextlib_suppress():
                        await ws.send("x" * size)
                    code = await closed_with(ws)
                    assert code in (4400, 1009), (size, code)
            # Announced as 1 GB, never sent: closed at once, nothing buffered.
            sock = handshake(svc.port, f"/api/notifications/ws?token={token}")
            sock.sendall(masked_frame_head(0x2, 2**30) + os.urandom(4) + b"\0" * 1000)
            sock.settimeout(5)
            assert _read_close_code(sock) == 1009
            reset(sock)
            react(conn, post, actor)
            await catch_up([watcher], database_url)
        finally:
            await cancel_all([task])
        with psycopg.connect(database_url, autocommit=True) as check:
            verify_against_database(watcher, check)
        assert watcher.connects == 1


def _read_close_code(sock: socket.socket) -> int | None:
    """Read server frames until a close frame; its code."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return None
        if not chunk:
            return None
        data += chunk
        while len(data) >= 2:
            opcode, length = data[0] & 0x0F, data[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = int.from_bytes(data[2:4], "big"), 4
            elif length == 127:
                length, offset = int.from_bytes(data[2:10], "big"), 10
            if len(data) < offset + length:
                break
            payload, data = data[offset:offset + length], data[offset + length:]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None


async def test_hourly_cap_of_720_seen_through_the_api_and_the_socket(database_url: str,
                                                                    conn: Conn) -> None:
    """A script writing 800 reactions notifies the owner 720 times (API, badge and socket agree)."""
    owner, spammer, friend = (add_user(conn, n) for n in ("capped", "spammer", "friend"))
    post = add_post(conn, owner)
    with running_service(database_url) as svc:
        client = StreamClient(owner, svc.secret, [svc.ws_url])
        task = asyncio.create_task(client.run())
        try:
            await client.connected.wait()
            # In separate transactions, as a script would, each sequenced before the next: the
            # cap counts what the sequencer has taken (plus the rows of the same statement).
            for _ in range(8):
                conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                             " SELECT %s, %s, 's' || g FROM generate_series(1, 100) g",
                             (post, spammer))
                await asyncio.to_thread(wait_until_sequenced, conn)
            react(conn, post, friend, "🙂")  # someone else still gets through
            await catch_up([client], database_url)
        finally:
            await cancel_all([task])
        assert conn.execute("SELECT count(*) FROM reactions WHERE user_id = %s",
                            (spammer,)).fetchone() == (800,)
        headers = {"Authorization": f"Bearer {make_token(owner, svc.secret)}"}
        async with httpx.AsyncClient(base_url=svc.base_url + API, headers=headers, timeout=10) as http:
            # A position counts changes, which need not be one per notification: the socket's.
            assert (await http.get("/unread-count")).json() == {
                "unread_count": 721, "position": client.position}
            seen: list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
                page = (await http.get("/", params=params)).json()
                seen += page["items"]
                if (cursor := page["next_cursor"]) is None:
                    break
        handles = [n["actor_handle"] for n in seen]
        assert handles.count("spammer") == 720 and handles.count("friend") == 1
        assert len(client.shown) == 721
        with psycopg.connect(database_url, autocommit=True) as check:
            verify_against_database(client, check)
