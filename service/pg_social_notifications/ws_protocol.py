"""uvicorn's sans-I/O WebSocket protocol, minus what an open socket no longer needs.

At 10,000 idle sockets every object a connection keeps is paid 10,000 times.
uvicorn keeps, for the socket's whole life, the handshake's request and
response (their parsed headers, about 2.5 KB) and an `asyncio.Queue` plus an
`asyncio.Event` (five deques of about 760 bytes each, allocated even while
empty). This subclass drops the handshake once the 101 is written and uses a
one-consumer inbox and a write flag that allocate nothing while idle. The
protocol itself (frames, close handshake, back-pressure) is uvicorn's,
unchanged; if a uvicorn release renames what is replaced here, the parent's
objects are kept (`lean` says which is in use) and only the saving is lost.

It also spreads a planned restart's closes over a drain window (`shutdown`),
drops an upgrade whose client left while it waited in the kernel's accept
queue, and tells the app how long the request waited there (`WAITED`).
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from pg_social_notifications.close_codes import CLOSE_RESTARTING

# The scope extension carrying how long the upgrade request sat in the kernel before
# this process read it (seconds): admission counts its wait from the request's arrival.
WAITED = "notifications.waited"
TCP_CLOSE_WAIT = 8  # Linux's tcp_info.tcpi_state once the peer has sent its FIN
TCP_INFO_LAST_DATA_RECV = 52  # offset of tcpi_last_data_recv (ms) in Linux's struct tcp_info


def tcp_info(transport: asyncio.BaseTransport) -> tuple[int, float] | None:
    """(TCP state, seconds since the last data arrived) of a transport's socket, on
    Linux; None elsewhere."""
    sock = transport.get_extra_info("socket")
    if sock is None or not hasattr(socket, "TCP_INFO"):
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return None
    if len(info) < TCP_INFO_LAST_DATA_RECV + 4:
        return None
    return info[0], struct.unpack_from("I", info, TCP_INFO_LAST_DATA_RECV)[0] / 1000


class Inbox:
    """What `asyncio.Queue` does for uvicorn's receive(): one consumer, no size limit."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items


class Flag:
    """What `asyncio.Event` does for uvicorn's write back-pressure, with waiters made
    only while the transport is paused."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter
        return True


RESTART_HINT_MS = 100  # a drained socket comes back within this, to the new process


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """Selected in server.py with uvicorn's `ws` option."""

    lean = False
    drain_seconds = 0.0  # set by server.py from NOTIFICATIONS_DRAIN_SECONDS
    on_abandoned: Callable[[], None] | None = None  # set by the app: counts in /metrics

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(getattr(self, "queue", None), asyncio.Queue) and isinstance(
                getattr(self, "writable", None), asyncio.Event):
            self.queue = Inbox()  # type: ignore[assignment]
            writable = Flag()
            if self.writable.is_set():
                writable.set()
            self.writable = writable  # type: ignore[assignment]
            self.lean = True

    def handle_connect(self, event: Request) -> None:
        info = tcp_info(self.transport)
        if info is not None and info[0] == TCP_CLOSE_WAIT:
            # The client gave up while its connect waited in the accept queue (a storm's
            # 4 s timeouts): nobody will read the 101, so spend nothing on it.
            self.handshake_initiated = self.handshake_complete = self.close_sent = True
            self.transport.close()
            if self.on_abandoned is not None:
                self.on_abandoned()
            return
        super().handle_connect(event)
        if info is not None and self.response.status_code == 101:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[WAITED] = info[1]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message.get("type") == "websocket.accept" and self.lean:
            # The 101 is written: nothing reads the handshake again.
            self.request = self.response = None  # type: ignore[assignment]

    def shutdown(self) -> None:
        """uvicorn's shutdown, one socket at a time: closed 1012 at a random moment
        within the drain window, with a hint to come back at once (the replacement
        process already listens on the port), so the sockets move as a stream, not a
        storm. Until its moment a socket is served as before: nothing is missed."""
        if (self.drain_seconds <= 0 or self.close_sent or not self.handshake_complete
                or self.initial_response is not None):
            super().shutdown()
            return
        delay = random.uniform(0, self.drain_seconds)
        asyncio.get_running_loop().call_later(delay, self._close_for_restart)

    def _close_for_restart(self) -> None:
        if self.transport.is_closing() or self.close_sent:
            return
        hint = random.randint(0, RESTART_HINT_MS)
        self.queue.put_nowait({"type": "websocket.disconnect", "code": CLOSE_RESTARTING})
        self.conn.send_close(CLOSE_RESTARTING, f"service restarting; retry after {hint} ms")
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()
