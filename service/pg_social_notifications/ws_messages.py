"""The WebSocket protocol's messages (docs/WEBSOCKET.md), as tagged msgspec Structs."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from pg_social_notifications.schemas import MAX_POSITION, Notification


class ServerMessage(msgspec.Struct, tag_field="type", kw_only=True):
    """Every server message is a JSON object with a `type`."""


class Hello(ServerMessage, tag="hello"):
    user_id: int
    unread_count: int
    position: int


class NotificationCreated(ServerMessage, tag="notification"):
    position: int
    unread_count: int
    notification: Notification


class NotificationUpdated(ServerMessage, tag="notification_updated"):
    """One statement may edit several rows (a renamed post): all come in one message."""

    position: int
    unread_count: int
    ids: list[uuid.UUID]
    notifications: list[Notification]
    notification: Notification  # the first of `notifications`, for clients that show one


class NotificationDeleted(ServerMessage, tag="notification_deleted"):
    position: int
    unread_count: int
    ids: list[uuid.UUID]


class Read(ServerMessage, tag="read"):
    position: int
    unread_count: int
    ids: list[uuid.UUID]


class Unread(ServerMessage, tag="unread"):
    position: int
    unread_count: int
    ids: list[uuid.UUID]


class Resync(ServerMessage, tag="resync"):
    position: int
    unread_count: int


class Pong(ServerMessage, tag="pong"):
    pass


class Error(ServerMessage, tag="error"):
    code: str
    message: str


# What a client may send.

class ClientMessage(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True):
    pass


class Auth(ClientMessage, tag="auth"):
    # None: the session cookie of the upgrade (NOTIFICATIONS_JWT_COOKIE) authenticates.
    token: Annotated[str, msgspec.Meta(max_length=8192)] | None = None
    since: Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION)] | None = None


class Ping(ClientMessage, tag="ping"):
    pass


CLIENT_DECODER = msgspec.json.Decoder(Auth | Ping)
_ENCODER = msgspec.json.Encoder()


def encode(message: ServerMessage) -> str:
    return _ENCODER.encode(message).decode()


# The messages that carry a change at a stream position (after hello): the web client
# applies exactly these in order (CHANGE_TYPES in web/notifications-protocol.js).
CHANGE_MESSAGES = (NotificationCreated, NotificationUpdated, NotificationDeleted, Read, Unread)

_CHANGE_TYPES: dict[str, type[NotificationDeleted | Read | Unread]] = {
    "deleted": NotificationDeleted, "read": Read, "unread": Unread,
}


def message_for_event(kind: str, position: int, unread_count: int, ids: list[uuid.UUID],
                      rows: dict[uuid.UUID, Notification]) -> ServerMessage | None:
    """The message for one notification_events row, or None when nothing is left to show.

    A 'created' or 'updated' event whose rows were deleted since is skipped: the
    'deleted' event that removed them follows in the stream.
    """
    if kind == "created":
        row = rows.get(ids[0]) if ids else None
        if row is None:
            return None
        return NotificationCreated(position=position, unread_count=unread_count, notification=row)
    if kind == "updated":
        found = [rows[i] for i in ids if i in rows]
        if not found:
            return None
        return NotificationUpdated(position=position, unread_count=unread_count,
                                   ids=[n.id for n in found], notifications=found,
                                   notification=found[0])
    return _CHANGE_TYPES[kind](position=position, unread_count=unread_count, ids=ids)
