"""Who may open a socket, and when: fair admission at the WebSocket edge.

A socket costs little until it is authenticated and much while it starts its
stream (a database round trip for its position, then its replay). So:

- an unauthenticated socket holds no handshake slot; it has a short deadline
  to authenticate and each address may hold only so many at once, so idle
  sockets cannot crowd anybody out;
- an authenticated socket waits, for a bounded time, for one of
  `max_handshakes` slots to start its stream: a connect wave the process can
  absorb is queued, not refused. The queue is bounded too (`max_waiting`):
  past it a socket is refused at once, before any database work, because in a
  storm a long queue only serves sockets whose clients have given up waiting
  (measured: 216 of 10,000 web clients back in 75 s with an unbounded queue);
- what must still be refused (the wait ran out, a user over their socket
  cap) is accepted and closed with a code and a jittered delay in the reason
  (`retry after 2345 ms`), which a browser can read (an HTTP refusal before
  the upgrade reaches a browser as a bare 1006) and the web client honours.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator

CLOSE_BUSY = 1013  # RFC 6455 "Try Again Later"
CLOSE_TOO_MANY = 4429  # this user already has as many sockets as allowed
RETRY_MIN_MS, RETRY_MAX_MS = 1000, 5000


class Refused(Exception):
    """Close the socket with `code`; the reason carries the retry hint."""

    def __init__(self, code: int, why: str) -> None:
        self.code = code
        self.retry_ms = retry_after_ms()
        self.reason = f"{why}; retry after {self.retry_ms} ms"
        super().__init__(self.reason)


def retry_after_ms() -> int:
    """Spread over a window, so the refused do not all come back at once."""
    return random.randint(RETRY_MIN_MS, RETRY_MAX_MS)


class Admission:
    """Handshake slots, the per-address cap on unauthenticated sockets, the per-user cap."""

    def __init__(self, *, max_handshakes: int, wait: float, max_waiting: int,
                 per_address: int, per_user: int) -> None:
        self._slots = asyncio.Semaphore(max_handshakes)
        self._wait = wait
        self._max_waiting = max_waiting
        self._waiting = 0
        self._per_address = per_address
        self._per_user = per_user
        self._unauthenticated: Counter[str] = Counter()

    @contextlib.contextmanager
    def unauthenticated(self, address: str) -> Iterator[None]:
        """While a socket from `address` has not authenticated yet."""
        if self._unauthenticated[address] >= self._per_address:
            raise Refused(CLOSE_BUSY, "too many sockets from this address are authenticating")
        self._unauthenticated[address] += 1
        try:
            yield
        finally:
            self._unauthenticated[address] -= 1
            if not self._unauthenticated[address]:
                del self._unauthenticated[address]

    def check_user(self, open_sockets: int) -> None:
        """Refuse one more socket for a user who has `open_sockets` already."""
        if open_sockets >= self._per_user:
            raise Refused(CLOSE_TOO_MANY, f"at most {self._per_user} sockets per user")

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One handshake slot, waited for at most `wait` seconds behind at most
        `max_waiting` others."""
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Refused(CLOSE_BUSY, "busy")
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait):  # wait_for may swallow a cancellation
                await self._slots.acquire()
        except TimeoutError:
            raise Refused(CLOSE_BUSY, "busy") from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
