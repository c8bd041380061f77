"""What the two live transports share (the WebSocket, routes_ws.py; Server-Sent Events,
routes_sse.py): where a stream starts, and how it joins the hub.

Both give the stream one Subscriber in the Hub, so replay, ordering,
de-duplication and the slow-client rule are the same whichever transport
carries it; only the framing differs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pg_social_notifications.fanout import Hub, Subscriber
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.store import NotificationStore
from pg_social_notifications.ws_messages import Hello, Resync

MAX_POSITION_DIGITS = 18  # below 2^63: a larger number is a client error, not a database one


def parse_position(raw: str | None) -> int | None:
    """A client's `since` (or `Last-Event-ID`): None when absent, else ValueError unless a
    non-negative integer."""
    if raw is None or raw == "":
        return None
    # "²" is a digit to isdigit() and not to int()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_POSITION_DIGITS:
        raise ValueError("must be a non-negative integer")
    return int(raw)


class Joiner:
    """Starts streams in batches: hello, then the replay after `since`.

    Starting a stream costs two database round trips (the user's position and
    badge, then the changes after `since`), whatever the number of streams
    asked for at once. So the streams asked for while a batch is in flight wait
    for the next one, which starts them all together: an idle service starts a
    stream at once, and a connect wave of 10,000 reconnecting sockets costs
    round trips by the hundred, not by the 20,000 (measured: the database work
    was a third of a socket's handshake, one stream at a time).

    Each stream gets one Subscriber in the Hub, added before the replay is
    fetched (the sync after it closes the race with a change committed
    meanwhile), and marked live once its replay is queued.
    """

    def __init__(self, store: NotificationStore, hub: Hub, metrics: Metrics, *,
                 replay_limit: int, queue_limit: int) -> None:
        self._store = store
        self._hub = hub
        self._metrics = metrics
        self._replay_limit = replay_limit
        self._queue_limit = queue_limit
        self._asked: list[_Start] = []
        self._runner: asyncio.Task[None] | None = None

    async def join(self, user_id: int, since: int | None,
                   write: Callable[[str], Awaitable[None]],
                   on_start: Callable[[Subscriber], None] | None = None) -> Subscriber:
        """A subscriber in the hub with hello (and resync) and its replay queued to
        `write`. `on_start` runs when it is made, before anything is written.
        Call it holding an admission slot. DatabaseUnavailable if the database is away."""
        loop = asyncio.get_running_loop()
        start = _Start(user_id, since, write, on_start, loop.create_future())
        self._asked.append(start)
        if self._runner is None:
            self._runner = loop.create_task(self._run())
        try:
            return await start.done
        except asyncio.CancelledError:
            # Cancelled after the batch made its subscriber: nobody else will remove it.
            if start.done.done() and not start.done.cancelled() and not start.done.exception():
                sub = start.done.result()
                self._hub.remove(sub)
                await sub.stop_sending()
            raise

    async def _run(self) -> None:
        try:
            while self._asked:
                batch, self._asked = self._asked, []
                await self._start(batch)
        finally:
            self._runner = None
            for start in self._asked:  # cancelled (shutdown) with streams still asked for
                start.done.cancel()

    async def _start(self, batch: list[_Start]) -> None:
        made: list[tuple[_Start, Subscriber]] = []
        try:
            batch = [s for s in batch if not s.done.done()]  # their sockets already left
            if not batch:
                return
            windows = await self._windows(sorted({s.user_id for s in batch}))
            for start in batch:
                if start.done.done():
                    continue
                made.append((start, self._subscriber(start, windows[start.user_id])))
            await self._hub.sync([s.user_id for s in batch])
        except BaseException as exc:
            for _, sub in made:
                self._hub.remove(sub)
                await sub.stop_sending()
            for start in batch:
                if not start.done.done():
                    if isinstance(exc, asyncio.CancelledError):
                        start.done.cancel()
                    else:
                        start.done.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for start, sub in made:
            sub.replaying = False
            if start.done.done():  # left during the replay
                self._hub.remove(sub)
                await sub.stop_sending()
            else:
                start.done.set_result(sub)

    async def _windows(self, users: list[int]) -> dict[int, tuple[int, int, int | None]]:
        """Per user: unread count and position (for hello), and the oldest kept change."""
        return {w.user_id: (w.unread_count, w.position, w.oldest)
                for w in await self._store.replay_windows(users)}

    def _subscriber(self, start: _Start, window: tuple[int, int, int | None]) -> Subscriber:
        """Made, hello (and resync) queued, and added to the hub: no await in between."""
        unread, position, oldest = window
        since = start.since
        hello = Hello(user_id=start.user_id, unread_count=unread, position=position)
        replayable = (since is not None and since < position and oldest is not None
                      and oldest <= since + 1 and position - since <= self._replay_limit)
        sub = Subscriber(start.user_id, since if replayable and since is not None else position,
                         self._queue_limit, start.write)
        if start.on_start is not None:
            start.on_start(sub)
        sub.send(hello)
        if since is not None and since != position and not replayable:
            self._metrics.resyncs.inc()
            sub.send(Resync(position=position, unread_count=unread))
        elif replayable:
            self._metrics.replays.inc()
        self._hub.add(sub)
        return sub


@dataclass(slots=True)
class _Start:
    user_id: int
    since: int | None
    write: Callable[[str], Awaitable[None]]
    on_start: Callable[[Subscriber], None] | None
    done: asyncio.Future[Subscriber]
