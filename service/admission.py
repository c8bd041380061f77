"""Who may open a socket, and when: fair admission at the WebSocket edge.

A socket costs little until it is authenticated and much while it starts its
stream (a database round trip for its position, then its replay). So:

- an unauthenticated socket holds no handshake slot; it has a short deadline
  to authenticate and each address may hold only so many at once, so idle
  sockets cannot crowd anybody out;
- an authenticated socket waits, for a bounded time and in arrival order,
  for one of `max_handshakes` slots to check its token and start its stream:
  a connect wave the process can absorb is queued, not refused. The queue is bounded too (`max_waiting`):
  past it a socket is refused at once, before any database work, because in a
  storm a long queue only serves sockets whose clients have given up waiting
  (measured: 216 of 10,000 web clients back in 75 s with an unbounded queue);
- a socket that would wait past that time, as predicted from the measured
  admission rate, is refused on arrival, before any JWT or database work;
- what must be refused (busy, a user over their socket cap) is accepted and
  closed with a code and a delay in the reason (`retry after 2345 ms`), which
  a browser can read (an HTTP refusal before the upgrade reaches a browser as
  a bare 1006) and the web client honours. A busy refusal's delay is the
  socket's turn in a schedule at the measured rate: a storm's refused sockets
  come back spread over the time the process needs for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator

CLOSE_BUSY = 1013  # RFC 6455 "Try Again Later"
CLOSE_TOO_MANY = 4429  # this user already has as many sockets as allowed
RETRY_MIN_MS, RETRY_MAX_MS = 1000, 5000  # the hint's window where nothing is measured
RETRY_CAP_MS = 60_000
PRIOR_RATE = 200.0  # admissions per second assumed before any is measured
RATE_FLOOR = 20.0
RATE_WINDOW = 0.5  # seconds per measurement of the admission rate
TURN_JITTER = 1.0  # seconds added at random to a refused socket's turn
MAX_TURN_AHEAD = 55.0  # the schedule reaches no further (the hint stays under a minute)


class Refused(Exception):
    """Close the socket with `code`; the reason carries the retry hint."""

    def __init__(self, code: int, why: str, retry_ms: int | None = None) -> None:
        self.code = code
        self.retry_ms = retry_after_ms() if retry_ms is None else retry_ms
        self.reason = f"{why}; retry after {self.retry_ms} ms"
        super().__init__(self.reason)


def retry_after_ms() -> int:
    """Spread over a window, so the refused do not all come back at once."""
    return random.randint(RETRY_MIN_MS, RETRY_MAX_MS)


class Admission:
    """Handshake slots, the per-address cap on unauthenticated sockets, the per-user cap.

    The slots serve sockets in arrival order. How fast they serve is measured
    (admissions per second while sockets were waiting), so a socket that
    would wait longer than `wait` is refused on arrival, before the 101 or
    its token is looked at, instead of after waiting in vain. Each refusal is
    given its own turn in a schedule that advances at the measured rate
    (`retry after N ms`), so a storm's refused sockets come back spread over
    the time the process needs to serve them, not all at once again.
    """

    def __init__(self, *, max_handshakes: int, wait: float, max_waiting: int,
                 per_address: int, per_user: int) -> None:
        self._slots = asyncio.Semaphore(max_handshakes)
        self._wait = wait
        self._max_waiting = max_waiting
        self._waiting = 0
        self._per_address = per_address
        self._per_user = per_user
        self._unauthenticated: Counter[str] = Counter()
        self.rate = PRIOR_RATE  # admissions per second while sockets wait, measured
        self._window_start = 0.0
        self._window_done = 0
        self._window_busy = False
        self._next_turn = 0.0  # the schedule of refused sockets' returns (loop time)

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

    def check_arrival(self) -> None:
        """Refuse at once a socket that would wait past `wait` (or behind a full queue)."""
        if not self._slots.locked():
            return
        if self._waiting >= self._max_waiting or (self._waiting + 1) / self.rate > self._wait:
            raise self._busy()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One handshake slot, in arrival order, waited for at most `wait` seconds."""
        self.check_arrival()
        if self._slots.locked():
            self._window_busy = True
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait):  # wait_for may swallow a cancellation
                await self._slots.acquire()
        except TimeoutError:
            raise self._busy() from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
            self._admitted()

    def _admitted(self) -> None:
        now = asyncio.get_running_loop().time()
        self._window_done += 1
        elapsed = now - self._window_start
        if elapsed < RATE_WINDOW:
            return
        if self._window_busy:  # idle windows measure the demand, not the capacity
            measured = self._window_done / elapsed
            self.rate = max(RATE_FLOOR, (self.rate + measured) / 2)
        self._window_start, self._window_done = now, 0
        self._window_busy = self._waiting > 0

    def _busy(self) -> Refused:
        """A refusal with the next turn in the schedule, a little jittered."""
        now = asyncio.get_running_loop().time()
        turn = max(self._next_turn, now + self._waiting / self.rate)
        self._next_turn = min(turn + 1 / self.rate, now + MAX_TURN_AHEAD)
        delay = turn - now + random.uniform(0, TURN_JITTER)
        return Refused(CLOSE_BUSY, "busy",
                       int(min(RETRY_CAP_MS, max(RETRY_MIN_MS, delay * 1000))))
