"""One WebSocket client process: holds thousands of sockets, one user each.

Started by `Fleet` (bench/ws_fleet.py) with the multiprocessing "spawn"
method, and driven through a pipe with small commands. Each socket behaves
as the project's browser client does (web/notifications-client.js): it
authenticates with a token in its first message (or, with `auth="query"`, in
the URL), gives up an attempt without `hello` after 4 s, applies messages in position order and drops
any whose position it has already applied, sends `ping` every 25 s, and,
when the socket closes, reconnects after a full-jitter backoff (uniform in
[0, min(30 s, 1 s × 1.4^attempt, max(1 s, time since the loss)))) with
`since` = the last applied position.

The sockets are bench/lean_ws.py's, which cost a fraction of the CPU of a
full client library: the load generator shares the machine it measures.

Everything is timed with time.monotonic(), which on Linux is one clock for
every process, so receipt times compare directly with the writer's commit
times.
"""

from __future__ import annotations

import asyncio
import gc
import random
import re
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from bench import lean_ws
from devkit.servers import SECRET, raise_open_files
from devkit.tokens import make_token

PING_EVERY = 25.0
CONNECT_TIMEOUT = 4.0  # as web/notifications-client.js
INITIAL_DELAY, FACTOR, MAX_DELAY = 1.0, 1.4, 30.0
RETRY_HINT = re.compile(r"retry after (\d+) ms")  # in a 1012, 1013 or 4429 close reason


@dataclass
class SocketState:
    user_id: int
    position: int | None = None
    connected: bool = False
    hello_at: float | None = None  # last hello received (monotonic)
    connects: int = 0
    connect_times: list[float] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)


@dataclass
class Counters:
    notifications: int = 0
    duplicates: int = 0  # the same notification applied twice on one socket
    stale: int = 0  # position already applied: dropped, as the protocol says
    gaps: int = 0  # a position skipped (no retraction in this workload: a lost change)
    closes: dict[int, int] = field(default_factory=dict)
    connect_failures: int = 0
    connect_timeouts: int = 0  # of which: no hello within the connect timeout
    timeouts_after_upgrade: int = 0  # of those: the 101 had come (waiting for hello)
    other: dict[str, int] = field(default_factory=dict)


class ClientProcess:
    def __init__(self, ws_url: str, users: list[int], reconnect: bool, deflate: bool,
                 connect_timeout: float, auth: str) -> None:
        self.ws_url = ws_url
        self.auth = auth  # "message" (first-message auth, as the web client) or "query"
        self.connect_timeout = connect_timeout
        self.deflate = deflate
        self.sockets = {u: SocketState(u) for u in users}
        self.reconnect = reconnect
        self.counters = Counters()
        # comment_id -> (user_id, receipt time); comment ids are unique per write
        self.receipts: dict[str, tuple[int, float]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        self.rng = random.Random()

    async def run_socket(self, state: SocketState, gate: asyncio.Semaphore | None) -> None:
        attempt = 0
        lost_at = 0.0
        token = make_token(state.user_id, SECRET, ttl=6 * 3600)
        while not self.stopping:
            url = self.ws_url
            if self.auth == "query":
                url += f"?token={token}" + (
                    f"&since={state.position}" if state.position is not None else "")
            ws: lean_ws.LeanWebSocket | None = None
            try:
                if gate is not None:
                    await gate.acquire()
                started = time.monotonic()
                try:
                    async with asyncio.timeout(self.connect_timeout):
                        ws = await lean_ws.connect(url, offer_deflate=self.deflate)
                        if self.auth == "message":  # as the web client: never in the URL
                            auth: dict[str, Any] = {"type": "auth", "token": token}
                            if state.position is not None:
                                auth["since"] = state.position
                            ws.send(msgspec.json.encode(auth).decode())
                        raw = await ws.recv()
                finally:
                    if gate is not None:
                        gate.release()
                        gate = None  # only the first connect is paced
                self.on_message(state, raw, started)
                attempt = 0
                pinger = asyncio.create_task(self.ping_forever(ws))
                try:
                    while True:
                        self.on_message(state, await ws.recv(), started)
                finally:
                    pinger.cancel()
            except lean_ws.Closed as exc:
                code, reason = exc.code, exc.reason
            except (OSError, TimeoutError, lean_ws.HandshakeFailed) as exc:
                if ws is not None:  # given up before its hello: 4408, as the web client
                    ws.close(4408, "connect timeout")
                self.counters.connect_failures += 1
                if isinstance(exc, TimeoutError):
                    self.counters.connect_timeouts += 1
                    self.counters.timeouts_after_upgrade += ws is not None
                code, reason = 0, ""
            state.connected = False
            if code:
                self.counters.closes[code] = self.counters.closes.get(code, 0) + 1
            if not self.reconnect or self.stopping:
                return
            if attempt == 0:
                lost_at = time.monotonic()
            # As the web client: the window never outgrows the time since the loss.
            ceiling = min(MAX_DELAY, INITIAL_DELAY * FACTOR ** attempt,
                          max(INITIAL_DELAY, time.monotonic() - lost_at))
            attempt += 1
            # As the web client: when the service said when ("retry after N ms"), then;
            # else the backoff.
            hint = RETRY_HINT.search(reason)
            await asyncio.sleep(int(hint.group(1)) / 1000 if hint
                                else self.rng.uniform(0, ceiling))

    async def ping_forever(self, ws: lean_ws.LeanWebSocket) -> None:
        await asyncio.sleep(self.rng.uniform(0, PING_EVERY))
        while True:
            ws.send("ping")
            await asyncio.sleep(PING_EVERY)

    def on_message(self, state: SocketState, raw: str | bytes, started: float) -> None:
        now = time.monotonic()
        if raw == "pong":
            return
        message = msgspec.json.decode(raw)
        kind = message.get("type")
        if kind == "hello":
            state.connects += 1
            state.connected = True
            state.hello_at = now
            state.connect_times.append(now - started)
            if state.position is None:
                state.position = int(message["position"])
            return
        if kind == "notification":
            position = int(message["position"])
            if state.position is not None and position <= state.position:
                self.counters.stale += 1
                return
            if state.position is not None and position != state.position + 1:
                self.counters.gaps += 1
            state.position = position
            notification = message["notification"]
            self.counters.notifications += 1
            comment_id = notification.get("comment_id") or notification["id"]
            if comment_id in state.seen_ids:
                self.counters.duplicates += 1
            state.seen_ids.add(comment_id)
            self.receipts[comment_id] = (state.user_id, now)
            return
        if kind == "resync":
            self.counters.other["resync"] = self.counters.other.get("resync", 0) + 1
            state.position = int(message["position"])
            return
        self.counters.other[str(kind)] = self.counters.other.get(str(kind), 0) + 1

    def status(self) -> dict[str, Any]:
        connected = [s for s in self.sockets.values() if s.connected]
        return {"sockets": len(self.sockets), "connected": len(connected),
                "notifications": self.counters.notifications,
                "latest_hello": max((s.hello_at or 0.0 for s in self.sockets.values()),
                                    default=0.0)}

    def report(self, since: float) -> dict[str, Any]:
        """Everything measured; receipts after `since` (monotonic)."""
        return {
            "sockets": len(self.sockets),
            "connected": sum(1 for s in self.sockets.values() if s.connected),
            "connect_times": [t for s in self.sockets.values() for t in s.connect_times],
            "hello_at": {u: s.hello_at for u, s in self.sockets.items()},
            "connects": {u: s.connects for u, s in self.sockets.items()},
            "down": [u for u, s in self.sockets.items() if not s.connected],
            "receipts": {c: r for c, r in self.receipts.items() if r[1] >= since},
            "counters": msgspec.to_builtins(self.counters),
        }


def main(conn: Connection, ws_url: str, users: list[int], reconnect: bool,
         connect_parallel: int, deflate: bool,
         connect_timeout: float = CONNECT_TIMEOUT, auth: str = "message") -> None:
    """Entry point of a client process: obey commands from `conn` until 'exit'."""
    raise_open_files()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(conn, ws_url, users, reconnect, connect_parallel, deflate,
                       connect_timeout, auth))


async def _serve(conn: Connection, ws_url: str, users: list[int], reconnect: bool,
                 connect_parallel: int, deflate: bool, connect_timeout: float,
                 auth: str) -> None:
    client = ClientProcess(ws_url, users, reconnect, deflate, connect_timeout, auth)
    loop = asyncio.get_running_loop()
    while True:
        command, arg = await loop.run_in_executor(None, conn.recv)
        if command == "connect":
            gate = asyncio.Semaphore(connect_parallel)
            client.tasks = [asyncio.create_task(client.run_socket(s, gate))
                            for s in client.sockets.values()]
            conn.send(("ok", None))
        elif command == "status":
            conn.send(("ok", client.status()))
        elif command == "report":
            conn.send(("ok", client.report(float(arg or 0.0))))
        elif command == "freeze":
            # The load generator must not add pauses of its own to what it measures:
            # move the long-lived socket objects out of the collector's way.
            gc.collect()
            gc.freeze()
            conn.send(("ok", None))
        elif command == "forget":
            client.receipts.clear()
            conn.send(("ok", None))
        elif command == "exit":
            client.stopping = True
            for task in client.tasks:
                task.cancel()
            await asyncio.gather(*client.tasks, return_exceptions=True)
            conn.send(("ok", None))
            return
