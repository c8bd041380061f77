"""A WebSocket client (RFC 6455) as small as a load generator can make it.

The bench's clients share this 2-core machine with the service they measure.
The `websockets` library spent 1.2–1.4 ms of CPU per connect here, as much as
the service's whole handshake, so in a storm the load generator took half the
machine. This client is an asyncio protocol that writes the upgrade request
in one write, checks the 101 and `Sec-WebSocket-Accept`, and parses frames
in place: text, close, ping and fragments. No extensions (a 101 that
negotiates one is refused: the service negotiates none), no compression.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections import deque
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16 * 1024
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The socket is closed: `code` as received (1006 when the connection just ended)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code, self.reason = code, reason


class HandshakeFailed(Exception):
    pass


def _frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(
        (key * (n // 4 + 1))[:n], "big")).to_bytes(n, "big") if n else b""
    return head + key + masked


class LeanWebSocket(asyncio.Protocol):
    """One client socket; `connect()` makes it and waits for the 101."""

    def __init__(self, key: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        self._open: asyncio.Future[None] = loop.create_future()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._fragments: list[bytes] | None = None
        self._messages: deque[str] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._open.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    self._fail(HandshakeFailed("response head too large"))
                return
            head = bytes(self._buffer[:end]).decode("latin-1")
            del self._buffer[:end + 4]
            problem = self._check_response(head)
            if problem:
                self._fail(HandshakeFailed(problem))
                return
            self._open.set_result(None)
        self._read_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._open.done():
            self._open.set_exception(ConnectionResetError("closed before the 101"))
        if self.close_code is None:
            self.close_code = 1006
        self._wake()

    # the client's side

    async def recv(self) -> str:
        """The next text message; Closed once the socket is closed and drained."""
        while not self._messages:
            if self.close_code is not None:
                raise Closed(self.close_code, self.close_reason)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._messages.popleft()

    def send(self, text: str) -> None:
        if self._transport is not None and self.close_code is None:
            self._transport.write(_frame(OP_TEXT, text.encode()))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame and drop the connection without waiting for the echo."""
        if self._transport is None:
            return
        if self.close_code is None:
            self._transport.write(_frame(OP_CLOSE, code.to_bytes(2, "big") + reason.encode()))
            self.close_code, self.close_reason = code, reason
        self._transport.close()
        self._wake()

    # internals

    def _check_response(self, head: str) -> str | None:
        lines = head.split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            return f"no upgrade: {lines[0]!r}"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("sec-websocket-accept", "").encode() != self._accept:
            return "bad Sec-WebSocket-Accept"
        if headers.get("sec-websocket-extensions"):
            return "the server negotiated an extension this client does not implement"
        return None

    def _read_frames(self) -> None:
        buf = self._buffer
        while len(buf) >= 2:
            first, second = buf[0], buf[1]
            n, at = second & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = int.from_bytes(buf[2:10], "big"), 10
            if second & 0x80:  # servers never mask (RFC 6455 §5.1)
                self.close(1002, "masked server frame")
                return
            if len(buf) < at + n:
                return
            payload = bytes(buf[at:at + n])
            del buf[:at + n]
            self._on_frame(first & 0x80 != 0, first & 0x0F, payload)

    def _on_frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if opcode == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.close_code is None and self._transport is not None:
                self._transport.write(_frame(OP_CLOSE, payload[:2]))  # the echo
                self.close_code, self.close_reason = code, payload[2:].decode(errors="replace")
            if self._transport is not None:
                self._transport.close()
            self._wake()
        elif opcode == OP_PING:
            if self._transport is not None and self.close_code is None:
                self._transport.write(_frame(OP_PONG, payload))
        elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            if not fin:
                self._fragments = (self._fragments or []) + [payload]
                return
            if self._fragments is not None:
                payload, self._fragments = b"".join(self._fragments) + payload, None
            self._messages.append(payload.decode())
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, exc: Exception) -> None:
        if not self._open.done():
            self._open.set_exception(exc)
        if self._transport is not None:
            self._transport.close()


async def connect(url: str, *, offer_deflate: bool = False) -> LeanWebSocket:
    """Open a socket to a `ws://` URL; bound the wait with `asyncio.timeout`."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        raise ValueError(f"only ws:// URLs: {url!r}")
    key = base64.b64encode(os.urandom(16))
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
               "Sec-WebSocket-Version: 13\r\n")
    if offer_deflate:  # as browsers do; the service declines it
        request += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    loop = asyncio.get_running_loop()
    _, socket = await loop.create_connection(lambda: LeanWebSocket(key), parts.hostname,
                                             parts.port or 80)
    assert socket._transport is not None
    socket._transport.write((request + "\r\n").encode("latin-1"))
    try:
        await socket._open
    except BaseException:
        socket._transport.close()
        raise
    return socket
