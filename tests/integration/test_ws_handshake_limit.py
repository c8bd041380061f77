"""A reconnect storm is refused before the upgrade beyond the handshake limit, not left to time out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import websockets
from websockets.exceptions import InvalidStatus

from tests.hostdata import add_user
from tests.servers import running_service
from tests.tokens import make_token


async def test_handshakes_beyond_the_limit_get_403_at_once_and_later_ones_succeed(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    """With a limit of 1, a burst of connects gets some immediate 403s; retrying clients all get in."""
    users = [add_user(conn, f"u{i}") for i in range(30)]
    with running_service(database_url, env={"NOTIFICATIONS_WS_MAX_HANDSHAKES": "1"}) as svc:

        async def connect(user: int) -> str:
            url = f"{svc.ws_url}?token={make_token(user, svc.secret)}"
            try:
                async with websockets.connect(url, open_timeout=10) as ws:
                    first = await asyncio.wait_for(ws.recv(), 10)
                    return "hello" if '"hello"' in str(first) else str(first)
            except InvalidStatus as exc:
                return f"http {exc.response.status_code}"

        outcomes = await asyncio.gather(*(connect(u) for u in users))
        assert "hello" in outcomes
        assert set(outcomes) <= {"hello", "http 403"}, outcomes
        assert "http 403" in outcomes, "a burst of 30 never exceeded one handshake at a time"
        refused = [u for u, o in zip(users, outcomes, strict=True) if o != "hello"]
        for user in refused:  # as a client does: back off a little and retry
            for _ in range(50):
                if await connect(user) == "hello":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"user {user} was refused for good")
        async with httpx.AsyncClient() as http:
            metrics = (await http.get(svc.base_url + "/metrics")).text
        refused_total = next(line for line in metrics.splitlines()
                             if line.startswith("notifications_ws_handshakes_refused_total{"))
        assert float(refused_total.rsplit(" ", 1)[1]) >= len(refused)
