"""Several service processes share nothing but PostgreSQL and all deliver correctly."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_post, add_user, react
from devkit.servers import running_service
from devkit.tokens import make_token
from tests.integration.test_listener import listener_backends
from tests.integration.ws_client import connect, no_message, recv_json

pytestmark = pytest.mark.timeout(120)


async def test_two_workers_each_listen_and_every_socket_gets_the_notification(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """With --workers 2 there are two LISTEN connections and every socket, on either, is served."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
    post = add_post(conn, owner)
    with running_service(database_url, workers=2) as svc:
        for _ in range(50):  # both workers start their listener after the first is ready
            if len(listener_backends(conn, database_url)) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(listener_backends(conn, database_url)) == 2
        token = make_token(owner, svc.secret)
        sockets = [await connect(f"{svc.ws_url}?token={token}").__aenter__() for _ in range(8)]
        try:
            for ws in sockets:
                assert (await recv_json(ws))["type"] == "hello"
            react(conn, post, actor)
            for ws in sockets:
                message = await recv_json(ws)
                assert (message["type"], message["position"]) == ("notification", 1)
                assert await no_message(ws, 0.2)
        finally:
            for ws in sockets:
                await ws.close()


async def test_two_service_processes_deliver_and_sync_read_state(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """Two separate services: a change reaches sockets on both; marking read on one updates the other."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "actor")
    post = add_post(conn, owner)
    with running_service(database_url) as one, running_service(database_url) as two:
        token = make_token(owner, one.secret)
        async with connect(f"{one.ws_url}?token={token}") as ws1, \
                connect(f"{two.ws_url}?token={token}") as ws2:
            await recv_json(ws1)
            await recv_json(ws2)
            react(conn, post, actor)
            first = [await recv_json(ws) for ws in (ws1, ws2)]
            assert first[0] == first[1] and first[0]["type"] == "notification"
            httpx.post(one.base_url + "/api/notifications/mark-all-read",
                       headers={"Authorization": f"Bearer {token}"}).raise_for_status()
            for ws in (ws1, ws2):
                read = await recv_json(ws)
                assert (read["type"], read["position"], read["unread_count"]) == ("read", 2, 0)
