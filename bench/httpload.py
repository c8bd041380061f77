"""A tiny closed-loop HTTP/1.1 load generator (keep-alive, asyncio streams).

httpx costs several times more CPU per request, and on 2 shared cores every
cycle the client burns is taken from the service and PostgreSQL. This client
does only what the benchmark needs: fixed requests, Content-Length bodies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    token: str
    body: bytes | None = None


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    sample_bodies: list[bytes] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


class HttpConnection:
    """One keep-alive connection to 127.0.0.1:port."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _ensure_open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    async def request(self, req: Request) -> tuple[int, bytes]:
        reader, writer = await self._ensure_open()
        head = (f"{req.method} {req.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {req.token}\r\n")
        if req.body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(req.body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (req.body or b""))
        status_line = await reader.readline()
        if not status_line:
            self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        chunked, keep_alive = False, True
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value.strip())
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif lname == b"connection" and b"close" in value.lower():
                keep_alive = False
        if chunked:
            body = b""
            while True:
                size = int((await reader.readline()).strip(), 16)
                if size == 0:
                    await reader.readline()
                    break
                body += await reader.readexactly(size)
                await reader.readline()
        else:
            body = await reader.readexactly(length) if length else b""
        if not keep_alive:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_load(port: int, next_request: Callable[[], Request | None], *, concurrency: int,
                   seconds: float, max_requests: int | None = None,
                   keep_bodies: int = 0) -> LoadResult:
    """`concurrency` connections send requests back to back for `seconds` (or
    until `next_request` returns None or `max_requests` were sent)."""
    result = LoadResult()
    deadline = time.monotonic() + seconds
    sent = 0

    async def worker() -> None:
        nonlocal sent
        conn = HttpConnection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                if max_requests is not None and sent >= max_requests:
                    return
                req = next_request()
                if req is None:
                    return
                sent += 1
                started = time.perf_counter()
                try:
                    status, body = await conn.request(req)
                except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
                    result.errors += 1
                    conn.close()
                    continue
                result.latencies_s.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                wanted = len(result.sample_bodies) < keep_bodies or not 200 <= status < 300
                if wanted and len(result.sample_bodies) < keep_bodies + 5:
                    result.sample_bodies.append(body)
        finally:
            conn.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.monotonic() - started
    return result


async def fetch(port: int, req: Request) -> tuple[int, bytes]:
    """One request on a fresh connection (setup and checks, not measured)."""
    conn = HttpConnection("127.0.0.1", port)
    try:
        return await conn.request(req)
    finally:
        conn.close()
