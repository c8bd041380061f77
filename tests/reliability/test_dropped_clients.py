"""Clients that vanish mid-message or mid-stream: the server cleans up, and they resume exactly."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import wait_until_sequenced
from devkit.servers import ServiceProcess, running_service
from devkit.stream import (
    StreamClient,
    WriterStats,
    cancel_all,
    catch_up,
    check_load,
    finish,
    host_writer,
    make_world,
    verify_against_database,
)
from devkit.tokens import make_token
from tests.reliability.test_faults import log_on_failure, metric

pytestmark = pytest.mark.timeout(120)


def handshake(port: int, path: str = "/api/notifications/ws", *, complete: bool = True) -> socket.socket:
    """A raw TCP WebSocket upgrade (optionally cut off halfway through the request)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    if not complete:
        sock.sendall(request[: len(request) // 2])
        return sock
    sock.sendall(request)
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response[:200]
    return sock


def masked_frame_head(opcode: int, length: int) -> bytes:
    """A client frame header (FIN set, masked) announcing `length` payload bytes."""
    if length < 126:
        return bytes([0x80 | opcode, 0x80 | length])
    if length < 65536:
        return bytes([0x80 | opcode, 0x80 | 126]) + struct.pack("!H", length)
    return bytes([0x80 | opcode, 0x80 | 127]) + struct.pack("!Q", length)


def reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed client or a lost network does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def wait_for_metric(svc: ServiceProcess, name: str, value: float, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (current := await asyncio.to_thread(metric, svc, name)) != value:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name} is {current}, expected {value}")
        await asyncio.sleep(0.1)


async def test_tab_resuming_while_another_tab_is_live_misses_nothing(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """A tab that keeps losing its connection resumes with since while a second tab stays live."""
    world = make_world(conn, owners=1, actors=10)
    owner = world.owners[0]
    with running_service(database_url) as svc, log_on_failure(svc):
        live = StreamClient(owner, svc.secret, [svc.ws_url])
        flaky = StreamClient(owner, svc.secret, [svc.ws_url])
        stop, stats = asyncio.Event(), WriterStats()
        tasks = [asyncio.create_task(live.run()), asyncio.create_task(flaky.run())]
        await asyncio.gather(live.connected.wait(), flaky.connected.wait())
        load = [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i,
                                                pause=0.002)) for i in range(3)]
        try:
            for _ in range(30):  # each cut lands on a live connection, however slow the machine
                await asyncio.wait_for(flaky.connected.wait(), 10)
                await asyncio.sleep(0.1)
                await flaky.drop()
                while flaky.connected.is_set():
                    await asyncio.sleep(0.01)
            await finish(stop, load)
            await catch_up([live, flaky], database_url)
        finally:
            stop.set()
            await cancel_all(tasks + load)
        with psycopg.connect(database_url, autocommit=True) as check:
            verify_against_database(live, check)
            verify_against_database(flaky, check)
        assert flaky.connects >= 30 and live.connects == 1
        check_load(stats, [live], min_commits=200, min_messages=100)
        assert flaky.messages > 0


async def test_client_cut_off_mid_replay_resumes_exactly(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """A client that dies in the middle of a large replay resumes from its last position, exactly."""
    world = make_world(conn, owners=1, actors=2, art_url="https://art.example/" + "x" * 900)
    owner, post = world.owners[0], world.posts[world.owners[0]]
    # 900 reactions, each its own statement (as the site's requests write them), so that the
    # replay is 900 positions long whatever a multi-row statement's change carries.
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, %s)",
                        [(post, actor, f"r{g}") for actor in world.actors for g in range(450)])
    with running_service(database_url) as svc, log_on_failure(svc):
        wait_until_sequenced(conn)  # the service numbers them: all 900 are in the replay log
        client = StreamClient(owner, svc.secret, [svc.ws_url], cut_every=40, cuts_left=12)
        task = asyncio.create_task(client.run())
        try:
            await catch_up([client], database_url)
        finally:
            await cancel_all([task])
        with psycopg.connect(database_url, autocommit=True) as check:
            verify_against_database(client, check)
        assert client.cuts_left == 0 and client.connects == 13
        await wait_for_metric(svc, "notifications_ws_open_sockets", 0)


async def test_partial_frames_and_half_handshakes_leave_no_trace(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Half requests, half frames and resets mid-frame free their sockets; others go on unharmed."""
    world = make_world(conn, owners=1, actors=2)
    owner, post = world.owners[0], world.posts[world.owners[0]]
    with running_service(database_url) as svc, log_on_failure(svc):
        watcher = StreamClient(owner, svc.secret, [svc.ws_url])
        task = asyncio.create_task(watcher.run())
        await watcher.connected.wait()
        token = make_token(owner, svc.secret)
        path = f"/api/notifications/ws?token={token}"
        try:
            broken: list[socket.socket] = []
            for _ in range(5):
                broken.append(handshake(svc.port, path, complete=False))
                sock = handshake(svc.port, path)
                sock.sendall(masked_frame_head(0x1, 2000)[:1])  # one byte of a header
                broken.append(sock)
                sock = handshake(svc.port, path)
                sock.sendall(masked_frame_head(0x1, 2000) + os.urandom(4) + b"x" * 100)
                broken.append(sock)  # a frame announced as 2000 bytes, 100 sent
                sock = handshake(svc.port, path)
                sock.sendall(masked_frame_head(0x1, 10**9) + os.urandom(4) + b"{")
                broken.append(sock)  # a frame announced as 1 GB
            await asyncio.sleep(0.5)
            conn.execute("INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, 'a')",
                         (post, world.actors[0]))
            for sock in broken:
                reset(sock)
            conn.execute("INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, 'b')",
                         (post, world.actors[1]))
            await catch_up([watcher], database_url)
            await wait_for_metric(svc, "notifications_ws_open_sockets", 1)
        finally:
            await cancel_all([task])
        with psycopg.connect(database_url, autocommit=True) as check:
            verify_against_database(watcher, check)
        assert watcher.connects == 1
        assert httpx.get(svc.base_url + "/health/ready", timeout=5).status_code == 200
        assert "Traceback" not in svc.log_text()


async def test_expiring_tokens_resume_with_a_fresh_token_and_lose_nothing(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Sockets closed 4401 when their 2-second tokens expire come back with fresh ones, exactly."""
    world = make_world(conn, owners=3, actors=6)
    with running_service(database_url) as svc, log_on_failure(svc):
        clients = [StreamClient(o, svc.secret, [svc.ws_url], token_ttl=2) for o in world.owners]
        stop, stats = asyncio.Event(), WriterStats()
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await asyncio.gather(*(c.connected.wait() for c in clients))
        load = [asyncio.create_task(host_writer(database_url, world, stop, stats, seed=i))
                for i in range(2)]
        try:
            await asyncio.sleep(5.5)
            await finish(stop, load)
            await catch_up(clients, database_url)
        finally:
            stop.set()
            await cancel_all(tasks + load)
        with psycopg.connect(database_url, autocommit=True) as check:
            for client in clients:
                verify_against_database(client, check)
                assert client.connects >= 3 and 4401 in client.close_codes
        check_load(stats, clients, min_commits=200, min_messages=100)
