"""Who may open a socket, and when: fair admission at the WebSocket edge.

A socket costs little until it is authenticated and much while it starts its
stream (a database round trip for its position, then its replay). So:

- an unauthenticated socket holds no handshake slot; it has a short deadline
  to authenticate and each address may hold only so many at once, so idle
  sockets cannot crowd anybody out;
- an authenticated socket waits, for a bounded time counted from its request's
  arrival in the kernel (ws_protocol.WAITED) and in arrival order,
  for one of `max_handshakes` slots to check its token and start its stream:
  a connect wave the process can absorb is queued, not refused. The queue is bounded too (`max_waiting`):
  past it a socket is refused at once, before any database work, because in a
  storm a long queue only serves sockets whose clients have given up waiting
  (measured: 216 of 10,000 web clients back in 75 s with an unbounded queue);
- a socket that would wait past that time, as predicted from the measured
  admission rate, is refused on arrival, before any JWT or database work;
  so is every arrival while the process is behind: when even the quickest
  handshake of the last half second took over 1.5 s from its arrival (as
  CoDel judges a queue by its minimum sojourn), the time is going where the
  slots cannot see it (accepting, parsing, waiting for auth messages);
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

from pg_social_notifications.close_codes import CLOSE_BUSY, CLOSE_TOO_MANY

RETRY_MIN_MS, RETRY_MAX_MS = 1000, 5000  # the hint's window where nothing is measured
RETRY_CAP_MS = 60_000
PRIOR_RATE = 200.0  # admissions per second assumed before any is measured
RATE_FLOOR = 20.0
RATE_WINDOW = 0.5  # seconds per measurement of the admission rate
TURN_JITTER = 1.0  # seconds added at random to a refused socket's turn
MAX_TURN_AHEAD = 55.0  # the schedule reaches no further (the hint stays under a minute)
# Overload, as CoDel sees it: when even the quickest handshake of a window took this long
# from arrival to its stream (kernel backlog, parsing, the auth message, the slot), the
# process is behind, and a new arrival would pass the client's 4 s: refused with a turn.
SOJOURN_TARGET = 1.5


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
        self._window_quickest = float("inf")  # shortest arrival-to-stream time this window
        self._behind_until = 0.0  # arrivals are refused until then (loop time)

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

    def check_arrival(self, waited: float = 0.0) -> float:
        """Refuse at once a socket that would wait past `wait` (or behind a full queue,
        or while the process is behind); else its arrival time, for `slot`. `waited` is
        how long its request sat in the kernel before this process read it: the wait
        counts from the request's arrival, since that is when its client's timer started."""
        now = asyncio.get_running_loop().time()
        arrived = now - max(0.0, waited)
        if now < self._behind_until:
            raise self._busy()
        self._check_wait(self._wait - (now - arrived))
        return arrived

    def _check_wait(self, left: float) -> None:
        """Refuse a socket that would wait past the `left` of its wait, or behind a full
        queue."""
        if self._slots.locked() and (self._waiting >= self._max_waiting
                                     or (self._waiting + 1) / self.rate > left):
            raise self._busy()

    @contextlib.asynccontextmanager
    async def slot(self, arrived: float | None = None) -> AsyncIterator[None]:
        """One handshake slot, in arrival order, waited for at most `wait` seconds.
        `arrived` (from `check_arrival`) times the whole handshake for overload."""
        if arrived is None:
            arrived = self.check_arrival()
            left = self._wait
        else:  # the queue may have grown since (a first message takes up to 3 s)
            left = self._wait - (asyncio.get_running_loop().time() - arrived)
            self._check_wait(left)
        if self._slots.locked():
            self._window_busy = True
        self._waiting += 1
        try:
            # What is left of `wait` since the arrival; wait_for may swallow a cancellation.
            async with asyncio.timeout(max(0.0, left)):
                await self._slots.acquire()
        except TimeoutError:
            raise self._busy() from None
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
            self._admitted(arrived)

    def _admitted(self, arrived: float) -> None:
        now = asyncio.get_running_loop().time()
        if not self._window_start:  # the first admission opens the first window
            self._window_start = now
        self._window_done += 1
        self._window_quickest = min(self._window_quickest, now - arrived)
        elapsed = now - self._window_start
        if elapsed < RATE_WINDOW:
            return
        if self._window_busy:  # idle windows measure the demand, not the capacity
            measured = self._window_done / elapsed
            self.rate = max(RATE_FLOOR, (self.rate + measured) / 2)
        if self._window_quickest > SOJOURN_TARGET:
            # For one window: the sockets already inside bring fresh evidence, and
            # with none left the refusals end by themselves.
            self._behind_until = now + RATE_WINDOW
        self._window_start, self._window_done = now, 0
        self._window_quickest = float("inf")
        self._window_busy = self._waiting > 0

    def _busy(self) -> Refused:
        """A refusal with the next turn in the schedule, a little jittered."""
        now = asyncio.get_running_loop().time()
        turn = max(self._next_turn, now + self._waiting / self.rate)
        self._next_turn = min(turn + 1 / self.rate, now + MAX_TURN_AHEAD)
        delay = turn - now + random.uniform(0, TURN_JITTER)
        return Refused(CLOSE_BUSY, "busy",
                       int(min(RETRY_CAP_MS, max(RETRY_MIN_MS, delay * 1000))))

    @property
    def behind(self) -> bool:
        """Whether arrivals are being refused because the process is behind."""
        return asyncio.get_running_loop().time() < self._behind_until
