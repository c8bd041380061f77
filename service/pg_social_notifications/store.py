"""Reads and writes of the notification tables, one function per named query.

Every function takes the caller's user id and scopes its query by it, so no
endpoint can reach another user's rows.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pg_social_notifications.queries import sql
from pg_social_notifications.schemas import Notification, Preferences, PreferencesUpdate

log = logging.getLogger(__name__)
T = TypeVar("T")
AConn = psycopg.AsyncConnection[Any]
NO_CURSOR = 2**63 - 1
WRITE_ATTEMPTS = 4


class UnknownUser(LookupError):
    """The token names a user id that has no row in users."""


class DatabaseUnavailable(RuntimeError):
    """No working connection within the pool's timeout: the API answers 503 at once."""


def notification_from_row(row: dict[str, Any]) -> Notification:
    """A Notification from a row of the named queries (extra columns ignored)."""
    row.pop("user_id", None)
    return Notification(**row)


async def counter(conn: AConn, user_id: int) -> tuple[int, int]:
    """(unread_count, position) of a user; (0, 0) before their first notification."""
    cur = await conn.execute(sql("user_counter"), {"user_id": user_id})
    row = await cur.fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def sequence_now(conn: AConn) -> None:
    """Run one sequencer batch now, so a change the caller just committed has its position.

    The REST writes call this after their commit: their answer then carries the
    position of their own change (the sequencer's lock makes this safe beside
    the leader; past a large backlog the change waits for the leader instead).
    """
    await conn.execute(sql("sequence_batch"), {"max_rows": 5000})


async def list_page(conn: AConn, user_id: int, *, before_seq: int | None, unread_only: bool,
                    limit: int) -> tuple[list[Notification], int, int]:
    """A page of notifications with (unread_count, position) of the same snapshot."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("list_notifications"), {
            "user_id": user_id, "before_seq": NO_CURSOR if before_seq is None else before_seq,
            "unread_only": unread_only, "limit": limit,
        })
        rows = await cur.fetchall()
    unread, position = int(rows[0]["unread_count"]), int(rows[0]["position"])
    page = []
    for row in rows:
        if row["id"] is None:  # the empty page's one row: the counter alone
            continue
        del row["unread_count"], row["position"]
        page.append(notification_from_row(row))
    return page, unread, position


async def notifications_by_ids(conn: AConn, user_ids: list[int],
                               ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[int, Notification]]:
    """id -> (owner, notification) for the ids that still exist and belong to one of user_ids."""
    if not ids:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("notifications_by_ids"), {"ids": ids, "user_ids": user_ids})
        rows = await cur.fetchall()
    found: dict[uuid.UUID, tuple[int, Notification]] = {}
    for row in rows:
        owner = int(row["user_id"])
        found[row["id"]] = (owner, notification_from_row(row))
    return found


async def mark_read(conn: AConn, user_id: int, ids: list[uuid.UUID]) -> int:
    cur = await conn.execute(sql("mark_read"), {"user_id": user_id, "ids": ids})
    return max(cur.rowcount, 0)


async def mark_all_read(conn: AConn, user_id: int, up_to: int | None) -> int:
    cur = await conn.execute(sql("mark_all_read"), {"user_id": user_id, "up_to": up_to})
    return max(cur.rowcount, 0)


async def delete_notification(conn: AConn, user_id: int, notification_id: uuid.UUID) -> bool:
    cur = await conn.execute(sql("delete_notification"),
                             {"user_id": user_id, "id": notification_id})
    return cur.rowcount > 0


async def get_preferences(conn: AConn, user_id: int) -> Preferences:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("get_preferences"), {"user_id": user_id})
        row = await cur.fetchone()
    return Preferences() if row is None else Preferences(**row)


async def update_preferences(conn: AConn, user_id: int, change: PreferencesUpdate) -> Preferences:
    params: dict[str, Any] = {"user_id": user_id, **change.changes()}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("update_preferences"), params)
        row = await cur.fetchone()
    if row is None:
        raise UnknownUser(user_id)
    return Preferences(**row)


def _lost_connection(exc: psycopg.OperationalError) -> bool:
    """The connection itself failed (PostgreSQL restarted, network cut), not the query.

    The statement never ran to completion on a connection that was already
    dead, and every operation of ours is idempotent, so running it again on
    another connection is safe.
    """
    return exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))


async def run(pool: AsyncConnectionPool[Any], work: Callable[[AConn], Awaitable[T]], *,
              transaction: bool = True, attempts: int = WRITE_ATTEMPTS) -> T:
    """Run `work` on a pooled (autocommit) connection, in one transaction unless told
    otherwise: `transaction=False` suits one statement, or statements that need no
    common snapshot, and saves the BEGIN and COMMIT round trips.

    Retried on a deadlock or serialization failure, after a short pause: writers
    of one user serialise on their counter row and statement triggers take users
    in id order, so this should not happen, but if PostgreSQL picks us as a
    victim the whole transaction is safe to run again. Retried at once on a
    lost connection: after a PostgreSQL restart every idle pooled connection is
    dead, and the pool drops each one as it comes back broken. Checking every
    connection on checkout would cost a round trip per request instead.

    Finding a working connection takes at most the pool's `timeout` in all,
    retries included (NOTIFICATIONS_DB_TIMEOUT); past it, DatabaseUnavailable:
    during an outage a request is answered 503 in seconds, never left hanging.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + pool.timeout
    conflicts = 0
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise DatabaseUnavailable("no working database connection")
        try:
            async with pool.connection(timeout=remaining) as conn:
                if not transaction:
                    return await work(conn)
                async with conn.transaction():
                    return await work(conn)
        except PoolTimeout as exc:
            raise DatabaseUnavailable("no database connection became free or could be made "
                                      f"within {pool.timeout:g}s") from exc
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
            conflicts += 1
            if conflicts == attempts:
                raise
            log.warning("write transaction retried after a deadlock or serialization failure "
                        "(attempt %d of %d)", conflicts, attempts)
            await asyncio.sleep(0.02 * 2**conflicts)
        except psycopg.OperationalError as exc:
            if not _lost_connection(exc):
                raise
            log.info("retrying on another connection after a lost one: %s", type(exc).__name__)
