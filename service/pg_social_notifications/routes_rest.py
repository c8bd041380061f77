"""The HTTP API under /api/notifications (docs/API.md). Every query is scoped by the caller."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, Parameter
from psycopg_pool import AsyncConnectionPool

from pg_social_notifications import store
from pg_social_notifications.auth import Caller, provide_caller
from pg_social_notifications.cursor import CursorError, decode_cursor, encode_cursor
from pg_social_notifications.grouping import list_groups
from pg_social_notifications.request_bodies import strict_body
from pg_social_notifications.schemas import (
    MAX_MARK_READ_IDS,
    GroupPage,
    MarkAllReadRequest,
    MarkReadResult,
    Notification,
    NotificationIds,
    NotificationPage,
    Preferences,
    PreferencesUpdate,
    UnreadCount,
)


def _parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationException(detail="notification id must be a UUID") from None


async def _result_after(pool: AsyncConnectionPool[Any], user_id: int, marked: int) -> MarkReadResult:
    """After a committed write: sequence it, then the badge and the position that include it."""
    async def work(conn: store.AConn) -> tuple[int, int]:
        await store.sequence_now(conn)
        return await store.counter(conn, user_id)

    unread, position = await store.run(pool, work)
    return MarkReadResult(marked=marked, unread_count=unread, position=position)


class NotificationsController(Controller):
    path = "/api/notifications"
    dependencies = {"caller": Provide(provide_caller)}
    tags = ["notifications"]

    @get("/", summary="List the caller's notifications, newest first")
    async def list_notifications(
        self, caller: Caller, pool: AsyncConnectionPool[Any],
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Parameter(max_length=64)] = None,
        unread_only: bool = False,
    ) -> NotificationPage:
        try:
            before = decode_cursor(cursor) if cursor is not None else None
        except CursorError as exc:
            raise ValidationException(detail=str(exc)) from exc
        async def work(conn: store.AConn) -> tuple[list[Notification], int, int]:
            # One statement, one snapshot: `position` matches the rows.
            return await store.list_page(conn, caller.user_id, before_seq=before,
                                         unread_only=unread_only, limit=limit + 1)

        rows, unread, position = await store.run(pool, work, transaction=False)
        more = len(rows) > limit
        rows = rows[:limit]
        return NotificationPage(
            notifications=rows, next_cursor=encode_cursor(rows[-1].seq) if more else None,
            unread_count=unread, position=position)

    @get("/unread-count", summary="The unread badge and stream position")
    async def unread_count(self, caller: Caller, pool: AsyncConnectionPool[Any]) -> UnreadCount:
        async def work(conn: store.AConn) -> tuple[int, int]:
            return await store.counter(conn, caller.user_id)

        unread, position = await store.run(pool, work, transaction=False)
        return UnreadCount(unread_count=unread, position=position)

    @post("/mark-read", status_code=200, summary="Mark some notifications read (at most 500 ids)")
    async def mark_read(self, caller: Caller, pool: AsyncConnectionPool[Any],
                        request: Request[Any, Any, Any], data: NotificationIds) -> MarkReadResult:
        data = await strict_body(request, NotificationIds) or []
        if len(data) > MAX_MARK_READ_IDS:
            raise ValidationException(detail=f"at most {MAX_MARK_READ_IDS} ids per request")
        ids = list(dict.fromkeys(data))

        async def work(conn: store.AConn) -> int:
            return await store.mark_read(conn, caller.user_id, ids) if ids else 0

        return await _result_after(pool, caller.user_id, await store.run(pool, work))

    @post("/mark-all-read", status_code=200,
          summary="Mark read everything up to the position the client has seen")
    async def mark_all_read(
        self, caller: Caller, pool: AsyncConnectionPool[Any], request: Request[Any, Any, Any],
        data: Annotated[MarkAllReadRequest | None, Body()] = None,
    ) -> MarkReadResult:
        data = await strict_body(request, MarkAllReadRequest | None)  # type: ignore[arg-type]
        up_to = data.up_to if data is not None else None

        async def work(conn: store.AConn) -> int:
            return await store.mark_all_read(conn, caller.user_id, up_to)

        return await _result_after(pool, caller.user_id, await store.run(pool, work))

    @delete("/{notification_id:str}", status_code=204, summary="Delete one notification")
    async def delete_notification(self, caller: Caller, pool: AsyncConnectionPool[Any],
                                  notification_id: str) -> None:
        target = _parse_id(notification_id)

        async def work(conn: store.AConn) -> bool:
            return await store.delete_notification(conn, caller.user_id, target)

        if not await store.run(pool, work):
            raise NotFoundException(detail="no such notification")
        await store.run(pool, store.sequence_now)

    @get("/preferences", summary="The caller's notification switches")
    async def get_preferences(self, caller: Caller, pool: AsyncConnectionPool[Any]) -> Preferences:
        async def work(conn: store.AConn) -> Preferences:
            return await store.get_preferences(conn, caller.user_id)

        return await store.run(pool, work, transaction=False)

    @put("/preferences", summary="Change any subset of the switches")
    async def put_preferences(self, caller: Caller, pool: AsyncConnectionPool[Any],
                              request: Request[Any, Any, Any], data: PreferencesUpdate
                              ) -> Preferences:
        data = await strict_body(request, PreferencesUpdate) or data
        async def work(conn: store.AConn) -> Preferences:
            return await store.update_preferences(conn, caller.user_id, data)

        try:
            return await store.run(pool, work)
        except store.UnknownUser:
            raise NotFoundException(detail="the token's user does not exist") from None

    @get("/groups", summary="The grouped view: same kind, same content, recent window")
    async def groups(
        self, caller: Caller, pool: AsyncConnectionPool[Any],
        limit: Annotated[int, Parameter(ge=1, le=100)] = 30,
        window_hours: Annotated[int, Parameter(ge=1, le=720)] = 24,
    ) -> GroupPage:
        return await list_groups(pool, caller.user_id, limit=limit, window_hours=window_hours)
