"""A planned restart moves the sockets to the new process as a stream, not a storm.

The new process binds the same port beside the old one (SO_REUSEPORT) and
serves before the old one is told to stop; on SIGTERM the old one closes its
sockets 1012 at random moments over NOTIFICATIONS_DRAIN_SECONDS, each with a
hint to come back at once, and serves each until its moment. The clients
here reconnect as the web client does (after the hint, with `since`), while
the host keeps writing: every notification arrives once, in order.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from devkit.hostdata import add_post, add_user, react
from devkit.servers import running_service
from devkit.tokens import make_token

pytestmark = pytest.mark.timeout(180)
HINT = re.compile(r"retry after (\d+) ms")
DRAIN = 3.0


@dataclass
class Client:
    user: int
    position: int | None = None
    emojis: list[str] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    closes: list[tuple[float, int, str]] = field(default_factory=list)
    hellos: int = 0


async def follow(client: Client, url: str, secret: str, stop: asyncio.Event) -> None:
    """One user's socket, reconnecting after a close as the web client does."""
    while not stop.is_set():
        try:
            async with websockets.connect(url, open_timeout=10) as ws:
                auth: dict[str, Any] = {"type": "auth", "token": make_token(client.user, secret)}
                if client.position is not None:
                    auth["since"] = client.position
                await ws.send(json.dumps(auth))
                async for raw in ws:
                    message = json.loads(raw)
                    if message["type"] == "hello":
                        client.hellos += 1
                        if client.position is None:
                            client.position = message["position"]
                    elif message["type"] == "notification":
                        client.positions.append(message["position"])
                        client.emojis.append(message["notification"]["emoji"])
                        client.position = message["position"]
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                raise
            client.closes.append((time.monotonic(), closed.rcvd.code, closed.rcvd.reason))
            hint = HINT.search(closed.rcvd.reason)
            await asyncio.sleep(int(hint.group(1)) / 1000 if hint else 0.5)
        except OSError:
            await asyncio.sleep(0.2)


async def test_sigterm_drains_sockets_to_the_new_process_losing_and_doubling_nothing(
        database_url: str, conn: psycopg.Connection[Any]) -> None:
    owners = [add_user(conn, f"drained{i}") for i in range(30)]
    actor = add_user(conn, "writer")
    posts = [add_post(conn, owner) for owner in owners]
    env = {"NOTIFICATIONS_DRAIN_SECONDS": str(DRAIN)}
    stop = asyncio.Event()
    clients = [Client(owner) for owner in owners]
    with running_service(database_url, env=env) as old:
        followers = [asyncio.create_task(follow(c, old.ws_url, old.secret, stop))
                     for c in clients]
        while sum(c.hellos for c in clients) < len(clients):
            await asyncio.sleep(0.05)
        written = 0

        def write(count: int) -> None:
            nonlocal written
            for _ in range(count):
                written += 1
                for post in posts:
                    react(conn, post, actor, f"e{written}")

        await asyncio.to_thread(write, 1)
        with running_service(database_url, env=env, port=old.port, wait=False) as new:
            await asyncio.to_thread(new.wait_listening)
            sigterm = time.monotonic()
            stopper = threading.Thread(target=old.stop, kwargs={"timeout": DRAIN + 20})
            stopper.start()
            # The host keeps writing through the drain.
            while stopper.is_alive():
                await asyncio.to_thread(write, 1)
                await asyncio.sleep(0.2)
            old_gone = time.monotonic() - sigterm
            await asyncio.to_thread(write, 1)
            deadline = time.monotonic() + 30
            while any(c.emojis[-1:] != [f"e{written}"] for c in clients):
                assert time.monotonic() < deadline, [c.emojis[-3:] for c in clients]
                await asyncio.sleep(0.05)
            stop.set()
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
            assert "Traceback" not in new.log_text(), new.log_text()[-3000:]
        assert "Traceback" not in old.log_text(), old.log_text()[-3000:]

    assert old_gone < DRAIN + 6, old_gone
    close_times = []
    for client in clients:
        # Closed once, by the old process, told to come back within 100 ms; then served
        # by the new one: every notification once, in position order.
        assert [(code, bool(HINT.search(reason))) for _, code, reason in client.closes] == [
            (1012, True)], client.closes
        hint = HINT.search(client.closes[0][2])
        assert hint and int(hint.group(1)) <= 100
        close_times.append(client.closes[0][0] - sigterm)
        assert client.emojis == [f"e{i}" for i in range(1, written + 1)], client.emojis
        assert client.positions == sorted(set(client.positions))
        assert client.hellos == 2
    # Spread over the window, not all at once.
    assert max(close_times) - min(close_times) > DRAIN / 3, sorted(close_times)
    assert max(close_times) <= DRAIN + 1.0, sorted(close_times)
