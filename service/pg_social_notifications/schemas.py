"""Requests and responses of the HTTP API and the WebSocket, declared once as msgspec Structs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

MAX_MARK_READ_IDS = 500
MAX_PAGE_SIZE = 200  # the largest `limit` of a list page
MAX_POSITION = 2**63 - 1  # bigint: anything larger is a client error, not a database one

NotificationIds = Annotated[list[uuid.UUID], msgspec.Meta(max_length=MAX_MARK_READ_IDS)]


class Notification(msgspec.Struct, kw_only=True):
    """One notification, as the list, the grouped view and the WebSocket return it."""

    id: uuid.UUID
    seq: int
    notification_type: Literal["reaction", "comment"]
    content_type: Literal["post", "blog_post"]
    content_id: int
    content_title: str
    content_url: str | None
    actor_id: int | None
    actor_handle: str
    actor_avatar_url: str | None
    emoji: str | None
    comment_id: uuid.UUID | None
    comment_preview: str | None
    is_read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationPage(msgspec.Struct, kw_only=True):
    """The site plan's page, `items` and `next_cursor`, with the badge and the stream
    position of the same snapshot beside them."""

    items: list[Notification]
    next_cursor: str | None
    unread_count: int
    position: int


class UnreadCount(msgspec.Struct, kw_only=True):
    unread_count: int
    position: int


class StreamTicket(msgspec.Struct, kw_only=True):
    """Opens one Server-Sent Events stream within `expires_in` seconds (docs/SSE.md)."""

    ticket: str
    expires_in: int


class MarkAllReadRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    up_to: Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)] | None = None


class MarkReadResult(msgspec.Struct, kw_only=True):
    marked: int
    unread_count: int
    position: int


class Preferences(msgspec.Struct, kw_only=True):
    notify_on_post_reactions: bool = True
    notify_on_post_comments: bool = True
    notify_on_blog_reactions: bool = True
    notify_on_blog_comments: bool = True
    aggregate_same_type: bool = True


class PreferencesUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Any subset of the switches; the ones left out keep their value (null is refused)."""

    notify_on_post_reactions: bool | UnsetType = UNSET
    notify_on_post_comments: bool | UnsetType = UNSET
    notify_on_blog_reactions: bool | UnsetType = UNSET
    notify_on_blog_comments: bool | UnsetType = UNSET
    aggregate_same_type: bool | UnsetType = UNSET

    def changes(self) -> dict[str, bool | None]:
        """Every switch, None for the ones to leave as they are."""
        return {name: None if value is UNSET else bool(value)
                for name, value in msgspec.structs.asdict(self).items()}


class GroupActor(msgspec.Struct, kw_only=True):
    actor_id: int | None
    actor_handle: str


class NotificationGroup(msgspec.Struct, kw_only=True):
    notification_type: Literal["reaction", "comment"]
    content_type: Literal["post", "blog_post"]
    content_id: int
    content_title: str
    content_url: str | None
    total: int
    unread: int
    actors: list[GroupActor]
    emojis: list[str]
    latest_at: datetime
    latest_seq: int
    notification_ids: list[uuid.UUID]


class GroupPage(msgspec.Struct, kw_only=True):
    groups: list[NotificationGroup]
    aggregated: bool
    unread_count: int
    position: int


class HealthStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: Literal["ok", "unavailable"]
    database: bool | None = None
    listener: bool | None = None
