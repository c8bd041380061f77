"""The service starts, answers health checks and pushes a plain-SQL reaction over the socket."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from typing import Any

import httpx
import psycopg
import websockets

from devkit.hostdata import add_post, add_user, react
from devkit.scrape import scrape
from devkit.servers import REPO_ROOT, running_service
from devkit.tokens import make_token


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
            assert listed["items"][0] == message["notification"]
            metrics = scrape(svc.base_url)
            for sample in ("notifications_delivery_lag_seconds_count",
                           "notifications_ws_open_sockets",
                           "notifications_ws_messages_delivered_total"):
                assert metrics[sample] == 1, (sample, metrics.get(sample))


async def test_logs_hold_no_token_and_can_be_json(database_url: str,
                                                 conn: psycopg.Connection[Any]) -> None:
    """No token ever reaches the log; with NOTIFICATIONS_LOG_FORMAT=json every worker logs JSON."""
    user = add_user(conn, "alice")
    with running_service(database_url, workers=2, env={"NOTIFICATIONS_LOG_FORMAT": "json"}) as svc:
        token = make_token(user, svc.secret)
        async with websockets.connect(f"{svc.ws_url}?token={token}&since=0") as ws:
            await ws.recv()
        httpx.get(svc.base_url + "/api/notifications/?limit=5",
                  headers={"Authorization": f"Bearer {token}"})
        async with websockets.connect(f"{svc.ws_url}?token=forged.{token[4:]}") as ws:
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.recv()
        svc.stop()
        log = svc.log_text()
    assert token not in log and token.split(".")[1] not in log and "token=" not in log
    lines = [line for line in log.splitlines() if line.strip()]
    assert all(line.startswith("{") for line in lines), lines  # workers too, not Litestar's format
    entries = [json.loads(line) for line in lines]
    assert any("WebSocket /api/notifications/ws?[redacted]" in e["message"] for e in entries)
    assert all({"ts", "level", "logger", "message"} <= set(e) for e in entries)


def test_static_web_files_and_missing_secret(database_url: str) -> None:
    """/web/ serves the ES modules; `serve` without a JWT secret refuses to start."""
    with running_service(database_url) as svc:
        response = httpx.get(svc.base_url + "/web/notifications-client.js")
        assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    env = {k: v for k, v in os.environ.items() if k != "NOTIFICATIONS_JWT_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "pg_social_notifications.cli", "serve"], cwd=REPO_ROOT, capture_output=True,
        env={**env, "DATABASE_URL": database_url, "NOTIFICATIONS_PORT": "1"}, timeout=60)
    assert result.returncode != 0
    assert b"NOTIFICATIONS_JWT_SECRET is required" in result.stderr
