"""The service starts, answers health checks and pushes a plain-SQL reaction over the socket."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import websockets

from tests.hostdata import add_post, add_user, react
from tests.servers import running_service
from tests.tokens import make_token


async def test_reaction_insert_arrives_over_websocket(database_url: str,
                                                      conn: psycopg.Connection[Any]) -> None:
    """A reaction INSERTed in plain SQL reaches the post owner's socket as a notification."""
    alice, bob = add_user(conn, "alice"), add_user(conn, "bob")
    post = add_post(conn, alice, "Sunset")
    with running_service(database_url) as svc:
        assert httpx.get(svc.base_url + "/health/live").status_code == 200
        token = make_token(alice, svc.secret)
        async with websockets.connect(f"{svc.ws_url}?token={token}") as ws:
            hello = json.loads(await ws.recv())
            assert hello == {"type": "hello", "user_id": alice, "unread_count": 0, "position": 0}
            react(conn, post, bob, "🔥")
            message = json.loads(await ws.recv())
            assert message["type"] == "notification"
            assert message["position"] == 1 and message["unread_count"] == 1
            assert message["notification"]["emoji"] == "🔥"
            assert message["notification"]["actor_handle"] == "bob"
            listed = httpx.get(svc.base_url + "/api/notifications/",
                               headers={"Authorization": f"Bearer {token}"}).json()
            assert listed["notifications"][0] == message["notification"]
