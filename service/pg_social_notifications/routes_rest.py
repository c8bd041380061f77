"""The HTTP API under /api/notifications (docs/API.md). Every query is scoped by the caller."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post, put
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import Body, Parameter

from pg_social_notifications.auth import Caller, provide_caller
from pg_social_notifications.cursor import CursorError, decode_cursor, encode_cursor
from pg_social_notifications.grouping import list_groups
from pg_social_notifications.request_bodies import strict_body
from pg_social_notifications.schemas import (
    MAX_MARK_READ_IDS,
    MAX_PAGE_SIZE,
    GroupPage,
    MarkAllReadRequest,
    MarkReadResult,
    NotificationIds,
    NotificationPage,
    Preferences,
    PreferencesUpdate,
    UnreadCount,
)
from pg_social_notifications.store import NotificationStore, UnknownUser, Written


def parse_notification_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationException(detail="notification id must be a UUID") from None


def _result(written: Written) -> MarkReadResult:
    return MarkReadResult(marked=written.changed, unread_count=written.badge.unread_count,
                          position=written.badge.position)


class NotificationsController(Controller):
    path = "/api/notifications"
    dependencies = {"caller": Provide(provide_caller)}
    tags = ["notifications"]

    @get("/", summary="List the caller's notifications, newest first")
    async def list_notifications(
        self, caller: Caller, store: NotificationStore,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, Parameter(max_length=64)] = None,
        unread_only: bool = False,
        notification_type: Literal["reaction", "comment"] | None = None,
    ) -> NotificationPage:
        try:
            before = decode_cursor(cursor) if cursor is not None else None
        except CursorError as exc:
            raise ValidationException(detail=str(exc)) from exc
        # One statement, one snapshot: `position` matches the rows.
        # Filters narrow the same keyset: a cursor pages on under the filters it came with.
        page = await store.page(caller.user_id, before_seq=before, unread_only=unread_only,
                                notification_type=notification_type, limit=limit + 1)
        rows = page.notifications[:limit]
        more = len(page.notifications) > limit
        return NotificationPage(
            items=rows, next_cursor=encode_cursor(rows[-1].seq) if more else None,
            unread_count=page.badge.unread_count, position=page.badge.position)

    @get("/unread-count", summary="The unread badge and stream position")
    async def unread_count(self, caller: Caller, store: NotificationStore) -> UnreadCount:
        badge = await store.badge(caller.user_id)
        return UnreadCount(unread_count=badge.unread_count, position=badge.position)

    @post("/mark-read", status_code=200, summary="Mark some notifications read (at most 500 ids)")
    async def mark_read(self, caller: Caller, store: NotificationStore,
                        request: Request[Any, Any, Any], data: NotificationIds) -> MarkReadResult:
        data = await strict_body(request, NotificationIds) or []
        if len(data) > MAX_MARK_READ_IDS:
            raise ValidationException(detail=f"at most {MAX_MARK_READ_IDS} ids per request")
        return _result(await store.mark_read(caller.user_id, list(dict.fromkeys(data))))

    @post("/mark-all-read", status_code=200,
          summary="Mark read everything up to the position the client has seen")
    async def mark_all_read(
        self, caller: Caller, store: NotificationStore, request: Request[Any, Any, Any],
        data: Annotated[MarkAllReadRequest | None, Body()] = None,
    ) -> MarkReadResult:
        data = await strict_body(request, MarkAllReadRequest | None)  # type: ignore[arg-type]
        up_to = data.up_to if data is not None else None
        return _result(await store.mark_all_read(caller.user_id, up_to))

    @delete("/{notification_id:str}", status_code=204, summary="Delete one notification")
    async def delete_notification(self, caller: Caller, store: NotificationStore,
                                  notification_id: str) -> None:
        if not await store.delete(caller.user_id, parse_notification_id(notification_id)):
            raise NotFoundException(detail="no such notification")

    @get("/preferences", summary="The caller's notification switches")
    async def get_preferences(self, caller: Caller, store: NotificationStore) -> Preferences:
        return await store.preferences(caller.user_id)

    @put("/preferences", summary="Change any subset of the switches")
    async def put_preferences(self, caller: Caller, store: NotificationStore,
                              request: Request[Any, Any, Any], data: PreferencesUpdate
                              ) -> Preferences:
        data = await strict_body(request, PreferencesUpdate) or data
        try:
            return await store.update_preferences(caller.user_id, data)
        except UnknownUser:
            raise NotFoundException(detail="the token's user does not exist") from None

    @get("/groups", summary="The grouped view: same kind, same content, recent window")
    async def groups(
        self, caller: Caller, store: NotificationStore,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 30,
        window_hours: Annotated[int, Parameter(ge=1, le=720)] = 24,
    ) -> GroupPage:
        return await list_groups(store, caller.user_id, limit=limit, window_hours=window_hours)
