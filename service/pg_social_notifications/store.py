"""The service's one door to PostgreSQL for requests and fan-out: `NotificationStore`.

It owns the pool, the retries (`run`) and the isolation of each read and write,
and offers typed methods with typed rows; each runs named queries from
db/queries/. Every method that reads a user's notifications takes that user's
id and scopes its query by it, so no endpoint can reach another user's rows.
(The sequencer, the LISTEN loop, migrations and retention keep their own
dedicated connections and queries: each is a protocol of its own.)
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import msgspec
import psycopg
from psycopg.rows import class_row, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from pg_social_notifications.queries import sql
from pg_social_notifications.schemas import (
    MAX_MUTES,
    Mute,
    MuteRequest,
    Notification,
    Preferences,
    PreferencesUpdate,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
AConn = psycopg.AsyncConnection[Any]
NO_CURSOR = 2**63 - 1
WRITE_ATTEMPTS = 4


class NoSuchComment(LookupError):
    """A thread mute names a comment that is not on that post or blog post."""


class TooManyMutes(RuntimeError):
    """The user already holds MAX_MUTES mutes."""


class UnknownUser(LookupError):
    """The token names a user id that has no row in users."""


class DatabaseUnavailable(RuntimeError):
    """No working connection within the pool's timeout: the API answers 503 at once."""


def notification_from_row(row: dict[str, Any]) -> Notification:
    """A Notification from a row of the named queries."""
    return Notification(**row, content_image_url=artwork_image(row["content_type"], row["content_url"]))


def artwork_image(content_type: str, content_url: str | None) -> str | None:
    """The thumbnail of an artwork: its content_url when that is the host's art_url, an
    http(s) URL or a path on the site; not notification_content()'s fallback when there is
    none (/posts/<sqid or id>), nor any other scheme."""
    if content_type != "post" or content_url is None or _POST_PAGE.fullmatch(content_url):
        return None
    lowered = content_url.lower()
    if lowered.startswith(("https://", "http://")) or (
            content_url.startswith("/") and not content_url.startswith("//")):
        return content_url
    return None


_POST_PAGE = re.compile(r"/posts/[^/?#]+")


class Badge(msgspec.Struct, frozen=True):
    """A user's unread count at a stream position (the two always travel together)."""

    unread_count: int
    position: int


class Page(msgspec.Struct, frozen=True):
    """A page of notifications, newest first, with the badge of the same snapshot."""

    notifications: list[Notification]
    badge: Badge


class Written(msgspec.Struct, frozen=True):
    """What a write changed, and the badge and position that include it."""

    changed: int
    badge: Badge


class Event(msgspec.Struct, frozen=True):
    """One change in a user's stream (notification_events)."""

    user_id: int
    seq: int
    kind: str
    notification_ids: list[uuid.UUID]
    unread_count: int
    created_at: Any


class ReplayWindow(msgspec.Struct, frozen=True):
    """What a socket's hello needs: the badge now, and the oldest change kept for replay."""

    user_id: int
    unread_count: int
    position: int
    oldest: int | None


class GroupRows(msgspec.Struct, frozen=True):
    """The grouped view's rows (dicts of group_notifications.sql) in one snapshot."""

    preferences: Preferences
    rows: list[dict[str, Any]]
    badge: Badge


class NotificationStore:
    """Typed reads and writes over the pool; see the module's docstring."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    # ---- reads: one statement each, no transaction (autocommit saves two round trips)

    async def badge(self, user_id: int) -> Badge:
        return await run(self.pool, partial(_badge, user_id=user_id), transaction=False)

    async def page(self, user_id: int, *, before_seq: int | None, unread_only: bool,
                   limit: int, notification_type: str | None = None) -> Page:
        """Up to `limit` notifications older than `before_seq`; one statement, one snapshot."""
        async def work(conn: AConn) -> Page:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(sql("list_notifications"), {
                    "user_id": user_id, "before_seq": NO_CURSOR if before_seq is None else before_seq,
                    "unread_only": unread_only, "limit": limit,
                    "notification_type": notification_type,
                })
                rows = await cur.fetchall()
            badge = Badge(int(rows[0]["unread_count"]), int(rows[0]["position"]))
            page = []
            for row in rows:
                if row["id"] is None:  # the empty page's one row: the counter alone
                    continue
                del row["unread_count"], row["position"]
                page.append(notification_from_row(row))
            return Page(page, badge)

        return await run(self.pool, work, transaction=False)

    async def preferences(self, user_id: int) -> Preferences:
        return await run(self.pool, partial(_preferences, user_id=user_id), transaction=False)

    async def groups(self, user_id: int, *, window_hours: int, limit: int) -> GroupRows:
        """The grouped view's rows, its preferences and the badge, in one snapshot."""
        async def work(conn: AConn) -> GroupRows:
            await conn.execute(sql("snapshot_repeatable_read"))
            prefs = await _preferences(conn, user_id)
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(sql("group_notifications"), {
                    "user_id": user_id, "window_hours": window_hours,
                    "aggregate": prefs.aggregate_same_type, "limit": limit,
                })
                rows = await cur.fetchall()
            return GroupRows(prefs, rows, await _badge(conn, user_id))

        return await run(self.pool, work)

    async def changes_after(self, users: list[int], after: list[int], per_user: int
                            ) -> tuple[list[Event], dict[uuid.UUID, tuple[int, Notification]]]:
        """For many users at once, up to `per_user` changes after a position each (in the
        order of `users`), and the rows they name: id -> (owner, notification)."""
        async def work(conn: AConn) -> tuple[list[Event], dict[uuid.UUID, tuple[int, Notification]]]:
            async with conn.cursor(row_factory=class_row(Event)) as cur:
                await cur.execute(sql("events_after"), {
                    "user_ids": users, "after_seqs": after, "per_user_limit": per_user})
                events = await cur.fetchall()
            wanted = list({i for e in events if e.kind in ("created", "updated")
                           for i in e.notification_ids})
            return events, await _notifications_by_ids(conn, users, wanted)

        return await run(self.pool, work, transaction=False)

    async def replay_windows(self, users: list[int]) -> list[ReplayWindow]:
        async def work(conn: AConn) -> list[ReplayWindow]:
            async with conn.cursor(row_factory=class_row(ReplayWindow)) as cur:
                await cur.execute(sql("replay_window"), {"user_ids": users})
                return await cur.fetchall()

        return await run(self.pool, work, transaction=False)

    async def user_id_by_sqid(self, sqid: str) -> int | None:
        async def work(conn: AConn) -> int | None:
            row = await (await conn.execute(sql("user_id_by_sqid"), {"sqid": sqid})).fetchone()
            return None if row is None else int(row[0])

        return await run(self.pool, work, transaction=False)

    async def check(self, timeout: float) -> bool:
        """Whether the database answers, with our tables, within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout), self.pool.connection() as conn:
                await conn.execute(sql("health_check"))
            return True
        except Exception:
            return False

    # ---- writes: each in a transaction, then sequenced, so the answer carries its position

    async def mark_read(self, user_id: int, ids: list[uuid.UUID]) -> Written:
        async def work(conn: AConn) -> int:
            cur = await conn.execute(sql("mark_read"), {"user_id": user_id, "ids": ids})
            return max(cur.rowcount, 0)

        return await self._sequenced(user_id, await run(self.pool, work) if ids else 0)

    async def mark_all_read(self, user_id: int, up_to: int | None) -> Written:
        async def work(conn: AConn) -> int:
            cur = await conn.execute(sql("mark_all_read"), {"user_id": user_id, "up_to": up_to})
            return max(cur.rowcount, 0)

        return await self._sequenced(user_id, await run(self.pool, work))

    async def delete(self, user_id: int, notification_id: uuid.UUID) -> bool:
        async def work(conn: AConn) -> bool:
            cur = await conn.execute(sql("delete_notification"),
                                     {"user_id": user_id, "id": notification_id})
            return cur.rowcount > 0

        deleted = await run(self.pool, work)
        if deleted:
            await run(self.pool, _sequence_now)
        return deleted

    async def update_preferences(self, user_id: int, change: PreferencesUpdate) -> Preferences:
        """The switches after the change; UnknownUser when the user has no row."""
        async def work(conn: AConn) -> Preferences:
            params: dict[str, Any] = {"user_id": user_id, **change.changes()}
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(sql("update_preferences"), params)
                row = await cur.fetchone()
            if row is None:
                raise UnknownUser(user_id)
            return Preferences(**row)

        return await run(self.pool, work)

    async def mutes(self, user_id: int) -> list[Mute]:
        async def work(conn: AConn) -> list[Mute]:
            async with conn.cursor(row_factory=class_row(Mute)) as cur:
                await cur.execute(sql("mute_list"), {"user_id": user_id})
                return await cur.fetchall()

        return await run(self.pool, work, transaction=False)

    async def mute(self, user_id: int, target: MuteRequest) -> Mute:
        """Mute (idempotent); NoSuchComment or TooManyMutes when it cannot be."""
        async def work(conn: AConn) -> Mute:
            thread_id = None
            if target.comment_id is not None:
                cur = await conn.execute(sql("mute_thread_root"), {
                    "content_type": target.content_type, "content_id": target.content_id,
                    "comment_id": target.comment_id})
                row = await cur.fetchone()
                if row is None or row[0] is None:
                    raise NoSuchComment(target.comment_id)
                thread_id = row[0]
            async with conn.cursor(row_factory=class_row(Mute)) as cur:
                await cur.execute(sql("mute_insert"), {
                    "user_id": user_id, "content_type": target.content_type,
                    "content_id": target.content_id, "thread_id": thread_id,
                    "max_mutes": MAX_MUTES})
                mute = await cur.fetchone()
            if mute is None:
                raise TooManyMutes(user_id)
            return mute

        return await run(self.pool, work)

    async def unmute(self, user_id: int, mute_id: int) -> bool:
        async def work(conn: AConn) -> bool:
            cur = await conn.execute(sql("mute_delete"), {"user_id": user_id, "id": mute_id})
            return cur.rowcount > 0

        return await run(self.pool, work, transaction=False)

    async def _sequenced(self, user_id: int, changed: int) -> Written:
        """After a committed write: sequence it, then the badge and position that include it.

        One sequencer batch now, so the answer carries the position of the caller's own
        change (the sequencer's lock makes this safe beside the leader; past a large
        backlog the change waits for the leader instead)."""
        async def work(conn: AConn) -> Badge:
            await _sequence_now(conn)
            return await _badge(conn, user_id)

        return Written(changed, await run(self.pool, work))


async def _badge(conn: AConn, user_id: int) -> Badge:
    """(unread_count, position) of a user; (0, 0) before their first notification."""
    row = await (await conn.execute(sql("user_counter"), {"user_id": user_id})).fetchone()
    return Badge(0, 0) if row is None else Badge(int(row[0]), int(row[1]))


async def _preferences(conn: AConn, user_id: int) -> Preferences:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("get_preferences"), {"user_id": user_id})
        row = await cur.fetchone()
    return Preferences() if row is None else Preferences(**row)


async def _sequence_now(conn: AConn) -> None:
    await conn.execute(sql("sequence_batch"), {"max_rows": 5000})


async def _notifications_by_ids(conn: AConn, user_ids: list[int], ids: list[uuid.UUID]
                                ) -> dict[uuid.UUID, tuple[int, Notification]]:
    """id -> (owner, notification) for the ids that still exist and belong to one of user_ids."""
    if not ids:
        return {}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql("notifications_by_ids"), {"ids": ids, "user_ids": user_ids})
        rows = await cur.fetchall()
    return {row["id"]: (int(row["user_id"]), notification_from_row(row)) for row in rows}


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
