"""The LISTEN loop survives a killed backend and a PostgreSQL restart without losing or repeating."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from websockets.asyncio.client import ClientConnection

from devkit.hostdata import add_post, add_user
from devkit.scrape import metric
from devkit.servers import ServiceProcess, running_service
from devkit.tokens import make_token
from tests.conftest import PgServer
from tests.integration.ws_client import connect, recv_json

pytestmark = pytest.mark.timeout(120)


class Collector:
    """Reads every stream message of one socket in the background."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.positions: list[int] = []
        self.types: list[str] = []
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "position" in message and message["type"] != "hello":
                self.positions.append(message["position"])
                self.types.append(message["type"])

    async def wait_for(self, position: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.positions or self.positions[-1] < position:
            if time.monotonic() > deadline:
                raise AssertionError(f"stuck at {self.positions[-5:]}, wanted {position}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def collecting(svc: ServiceProcess, user_id: int) -> AsyncIterator[Collector]:
    async with connect(f"{svc.ws_url}?token={make_token(user_id, svc.secret)}&since=0") as ws:
        assert (await recv_json(ws))["type"] == "hello"
        collector = Collector(ws)
        try:
            yield collector
        finally:
            await collector.stop()


def react_as_new_user(database_url: str, post_id: int, n: int) -> None:
    """One reaction by a fresh actor, on a fresh connection (the old one may be dead)."""
    with psycopg.connect(database_url, autocommit=True) as c:
        actor = add_user(c, f"actor{n}_{time.monotonic_ns()}")
        c.execute("INSERT INTO reactions (post_id, user_id, emoji) VALUES (%s, %s, '🔥')",
                  (post_id, actor))


def listener_backends(conn: psycopg.Connection[Any], database_url: str) -> list[int]:
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    return [r[0] for r in conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'notifications-listener'"
        " AND datname = %s", (dbname,))]


async def wait_ready(svc: ServiceProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(svc.base_url + "/health/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError("service did not become ready again")


async def test_terminated_listen_backend_loses_and_repeats_nothing(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Killing the LISTEN backend mid-stream: every change arrives exactly once, in order."""
    owner = add_user(conn, "owner")
    post = add_post(conn, owner)
    with running_service(database_url) as svc:
        async with collecting(svc, owner) as collector:
            for n in range(5):
                react_as_new_user(database_url, post, n)
            await collector.wait_for(5)
            [backend] = listener_backends(conn, database_url)
            conn.execute("SELECT pg_terminate_backend(%s)", (backend,))
            for n in range(5, 15):  # committed while the listener is down or reconnecting
                react_as_new_user(database_url, post, n)
            await collector.wait_for(15)
            assert listener_backends(conn, database_url) != [backend]
            for n in range(15, 20):
                react_as_new_user(database_url, post, n)
            await collector.wait_for(20)
            await asyncio.sleep(0.3)
        assert collector.positions == list(range(1, 21))
        assert metric(svc.base_url, "notifications_listener_reconnects_total") == 1


async def test_postgres_restart_mid_stream_loses_and_repeats_nothing(
        pg_server: PgServer, database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Restarting PostgreSQL mid-stream: after the resync every change arrived exactly once."""
    assert pg_server.embedded is not None, "this test restarts the embedded server"
    owner = add_user(conn, "owner")
    post = add_post(conn, owner)
    conn.close()
    with running_service(database_url) as svc:
        async with collecting(svc, owner) as collector:
            for n in range(5):
                react_as_new_user(database_url, post, n)
            await collector.wait_for(5)
            try:
                await asyncio.to_thread(pg_server.embedded.stop, "fast")
                await asyncio.sleep(1.0)
            finally:
                await asyncio.to_thread(pg_server.embedded.start)
            # Commit at once: the listener is most likely still in its backoff.
            for n in range(5, 15):
                react_as_new_user(database_url, post, n)
            await collector.wait_for(15)
            await wait_ready(svc)
            for n in range(15, 20):
                react_as_new_user(database_url, post, n)
            await collector.wait_for(20)
            await asyncio.sleep(0.3)
        assert collector.positions == list(range(1, 21))
        assert set(collector.types) == {"notification"}
        # The REST side recovered too (the pool dropped its dead connections).
        token = make_token(owner, svc.secret)
        response = httpx.get(svc.base_url + "/api/notifications/unread-count",
                             headers={"Authorization": f"Bearer {token}"})
        assert response.json() == {"unread_count": 20, "position": 20}
