"""What the two live transports share (the WebSocket, routes_ws.py; Server-Sent Events,
routes_sse.py): where a stream starts, and how it joins the hub.

Both give the stream one Subscriber in the Hub, so replay, ordering,
de-duplication and the slow-client rule are the same whichever transport
carries it; only the framing differs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from service import store
from service.fanout import Hub, Subscriber
from service.metrics import Metrics
from service.queries import sql
from service.ws_messages import Hello, Resync

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


async def start_position(pool: AsyncConnectionPool[Any], user_id: int, since: int | None,
                         replay_limit: int) -> tuple[Hello, int, bool]:
    """hello, the position to start streaming after, and whether to send resync."""
    async def work(conn: store.AConn) -> tuple[Any, ...] | None:
        cur = await conn.execute(sql("replay_window"), {"user_id": user_id})
        return await cur.fetchone()

    row = await store.run(pool, work, transaction=False)
    assert row is not None
    unread, position, oldest = int(row[0]), int(row[1]), row[2]
    hello = Hello(user_id=user_id, unread_count=unread, position=position)
    if since is None or since == position:
        return hello, position, False
    replayable = (since < position and oldest is not None and int(oldest) <= since + 1
                  and position - since <= replay_limit)
    return (hello, since, False) if replayable else (hello, position, True)


async def join(pool: AsyncConnectionPool[Any], hub: Hub, metrics: Metrics, *, user_id: int,
               since: int | None, replay_limit: int, queue_limit: int,
               write: Callable[[str], Awaitable[None]]) -> Subscriber:
    """A subscriber in the hub with `hello` (and `resync`) queued to `write`; the caller
    then runs `replay`. Call it holding an admission slot: it reads the database."""
    hello, start, resync = await start_position(pool, user_id, since, replay_limit)
    sub = Subscriber(user_id, start, queue_limit, write)
    sub.send(hello)
    if resync:
        metrics.resyncs.inc()
        sub.send(Resync(position=hello.position, unread_count=hello.unread_count))
    elif since is not None and since < hello.position:
        metrics.replays.inc()
    hub.add(sub)
    return sub


async def replay(hub: Hub, sub: Subscriber) -> None:
    """The replay after `since`, by the same path as live changes; then the queue limit
    holds. If it fails the subscriber leaves the hub (the caller has nothing to remove)."""
    try:
        await hub.sync([sub.user_id])
    except BaseException:
        hub.remove(sub)
        await sub.stop_sending()
        raise
    sub.replaying = False
