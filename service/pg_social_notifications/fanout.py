"""Fan-out: every socket of this process, by user, and how changes reach them.

A socket's `position` is the single source of truth for what it has been
sent: a change is queued only if its position is greater, and the position
moves in the same synchronous step. Replay on connect, live wakeups and the
resynchronisation after a LISTEN reconnect all go through `Hub.sync`, so
they can neither leave a gap nor send a change twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from pg_social_notifications.close_codes import CLOSE_TOO_SLOW
from pg_social_notifications.metrics import Metrics
from pg_social_notifications.store import Event, NotificationStore
from pg_social_notifications.ws_messages import Resync, ServerMessage, encode, message_for_event

log = logging.getLogger(__name__)



class Subscriber:
    """One open socket: its user, how far it has been sent, and what waits to be written.

    An idle socket holds no task, queue or event of its own: at 10,000 sockets an
    `asyncio.Queue` (four deques), an `Event` and three tasks each were a third of
    the server's memory per socket and most of the objects a garbage-collector
    pass walks. Messages wait in a deque made on the first one; a sender task
    exists only while there is something to write, and ends when it is written.
    `write` is the transport's (the socket's send_text); `on_close`, when set,
    wakes whoever serves the socket after `close`.
    """

    __slots__ = ("user_id", "position", "queue_limit", "replaying", "close_code", "close_reason",
                 "on_close", "_write", "_pending", "_sender")

    def __init__(self, user_id: int, position: int, queue_limit: int,
                 write: Callable[[str], Awaitable[None]], *, replaying: bool = True) -> None:
        self.user_id = user_id
        self.position = position
        self.queue_limit = queue_limit
        # While the connect-time replay runs, the queue may exceed its limit: the
        # replay is bounded by the replay limit and the sender drains it meanwhile.
        self.replaying = replaying
        self.close_code: int | None = None
        self.close_reason = ""
        self.on_close: Callable[[], None] | None = None
        self._write = write
        self._pending: deque[str] | None = None
        self._sender: asyncio.Task[None] | None = None

    def send(self, message: ServerMessage | str) -> None:
        """Queue a message that is not part of the stream (hello, resync, pong, error)."""
        if self.close_code is None:
            self._push(message if isinstance(message, str) else encode(message))

    def queued(self) -> int:
        """Messages not yet handed to the transport (the one being written included)."""
        return len(self._pending) if self._pending else 0

    def is_full(self) -> bool:
        return not self.replaying and self.queued() >= self.queue_limit

    def offer(self, position: int, text: str | None) -> bool:
        """Queue the change at `position` if it is the very next one; True if queued.

        Checking and moving the position happen in one step with no await in
        between, which rules out duplicates between concurrent syncs. Only the
        next position is taken: a socket that joined while a sync for its user
        was in flight (fetched from the other sockets' positions) must not jump
        ahead over the changes it has not been sent; its own sync fills them.
        """
        if self.close_code is not None or position != self.position + 1:
            return False
        self.position = position
        if text is None:
            return False
        if self.is_full():
            self.close(CLOSE_TOO_SLOW, "client too slow: outgoing queue full")
            return False
        self._push(text)
        return True

    def close(self, code: int, reason: str) -> None:
        """Ask the socket to close with `code`; drops what is still queued."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        self._pending = None
        if self.on_close is not None:
            self.on_close()

    @contextlib.asynccontextmanager
    async def close_timer(self) -> AsyncIterator[asyncio.Timeout]:
        """A timer on the serving task that fires at once when the hub closes this
        subscriber; the transport reschedules it for its own deadlines (idle, expiry).
        One timer in place of a task per socket waiting for the close."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(None) as timer:
            self.on_close = lambda: timer.reschedule(loop.time())
            try:
                yield timer
            finally:
                self.on_close = None

    async def stop_sending(self) -> None:
        """Stop the sender (a write to a stuck client may never end) and wait for it."""
        sender = self._sender
        if sender is not None and sender is not asyncio.current_task():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    def _push(self, text: str) -> None:
        if self._pending is None:
            self._pending = deque()
        self._pending.append(text)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Write the queue in order, then end (the next message starts a new sender)."""
        try:
            while self._pending and self.close_code is None:
                text = self._pending[0]
                try:
                    await self._write(text)
                except Exception as exc:  # the peer went away mid-write: nothing to report
                    log.debug("send failed: %s", type(exc).__name__)
                    self.close(1000, "")
                    return
                if self._pending:
                    self._pending.popleft()
        finally:
            self._sender = None
            if not self._pending:
                self._pending = None


class Hub:
    """The sockets of this process, by user id, and the one way changes reach them."""

    def __init__(self, store: NotificationStore, metrics: Metrics,
                 page_size: int = 500) -> None:
        self._store = store
        self._metrics = metrics
        self._page_size = page_size
        # A list per user, not a set: users hold one to a few sockets, and an empty
        # set is 216 bytes against a list's 56 (10k sockets, 10k users).
        self._by_user: dict[int, list[Subscriber]] = defaultdict(list)
        # Counted, not summed over users: a connect wave at 10k sockets must not pay
        # a pass over every user per socket.
        self._open = 0

    def add(self, sub: Subscriber) -> None:
        subs = self._by_user[sub.user_id]
        if sub not in subs:
            subs.append(sub)
            self._open += 1
        self._metrics.open_sockets.set(self._open)

    def remove(self, sub: Subscriber) -> None:
        subs = self._by_user.get(sub.user_id)
        if subs is not None and sub in subs:
            self._open -= 1
            subs.remove(sub)
            if not subs:
                del self._by_user[sub.user_id]
        self._metrics.open_sockets.set(self._open)

    def sockets_of(self, user_id: int) -> int:
        subs = self._by_user.get(user_id)
        return len(subs) if subs else 0

    def connected_users(self) -> list[int]:
        return list(self._by_user)

    def socket_count(self) -> int:
        return self._open

    def close_all(self, code: int, reason: str) -> None:
        for subs in list(self._by_user.values()):
            for sub in list(subs):
                sub.close(code, reason)

    async def sync(self, user_ids: Iterable[int]) -> None:
        """Send each connected user's sockets every change after their position.

        One query fetches the changes of all the users at once (a page per
        user); users with a full page are fetched again until caught up. Each
        round moves every socket it fetched for, so the loop always ends: a
        socket the page cannot advance (its next position is not in the log)
        is told to reload (`resync`) at the page's end instead.
        """
        users = sorted({u for u in user_ids if self._by_user.get(u)})
        while users:
            after = [min(s.position for s in self._by_user[u]) for u in users]
            fetched_for = {u: set(self._by_user[u]) for u in users}
            events, rows = await self._store.changes_after(users, after, self._page_size)
            by_user: dict[int, list[Event]] = defaultdict(list)
            for event in events:
                by_user[event.user_id].append(event)
            # Grouped once: a wakeup for 500 users must not scan every row per user.
            rows_by_user: dict[int, dict[uuid.UUID, Any]] = defaultdict(dict)
            for notification_id, (owner, row) in rows.items():
                rows_by_user[owner][notification_id] = row
            for user_id, user_events in by_user.items():
                await self._fan_out(user_id, user_events, rows_by_user.get(user_id, {}))
                self._resync_stalled(fetched_for[user_id], user_id, user_events[-1])
            users = [u for u in users
                     if len(by_user.get(u, ())) == self._page_size and self._by_user.get(u)]

    def _resync_stalled(self, fetched_for: set[Subscriber], user_id: int, last: Event) -> None:
        """A socket the page was fetched for that is still behind its end met a hole.

        (A socket that joined during the fetch, further back, is not stalled:
        its own sync fetches from its position; nor is one that left meanwhile.)
        """
        last_seq, unread = last.seq, last.unread_count
        still_here = self._by_user.get(user_id, ())
        for sub in fetched_for:
            # A socket that left during the fan-out was not stalled: it is gone.
            if sub.close_code is None and sub.position < last_seq and sub in still_here:
                log.warning("user %d: replay log has no position %d; socket told to resync at %d",
                            user_id, sub.position + 1, last_seq)
                self._metrics.stalled_resyncs.inc()
                sub.position = last_seq
                sub.send(Resync(position=last_seq, unread_count=unread))

    async def _fan_out(self, user_id: int, events: list[Event],
                       rows: dict[uuid.UUID, Any]) -> None:
        subs = list(self._by_user.get(user_id, ()))
        for event in events:
            seq, created_at = event.seq, event.created_at
            message = message_for_event(event.kind, seq, event.unread_count,
                                        event.notification_ids, rows)
            text = None if message is None else encode(message)
            for sub in subs:
                if text is not None and sub.is_full():
                    # A burst can fill even a fast reader's queue before its sender
                    # ran: give every sender one turn; a stuck one stays full.
                    await asyncio.sleep(0)
                live = not sub.replaying
                if sub.offer(seq, text):
                    self._metrics.messages_delivered.inc()
                    if live and isinstance(created_at, datetime):
                        lag = time.time() - created_at.timestamp()
                        self._metrics.delivery_lag.observe(max(0.0, lag))
