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
    user_id: int  # the recipient, as in the site plan's Notification
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
    # The artwork's image for a thumbnail: an artwork's content_url is its art_url when
    # the host has one (http(s) or a path on the site); null for blog posts, artworks
    # without one and other schemes.
    content_image_url: str | None = None


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


KINDS = ("post_reactions", "post_comments", "blog_reactions", "blog_comments")
DigestSchedule = Literal["off", "daily", "weekly"]
# A wall-clock time in the user's time zone, "HH:MM".
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
TimeZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Preferences(msgspec.Struct, kw_only=True):
    """What a user hears about, and where. `notify_on_*` (the plan's names) decide whether
    a notification exists at all (in the app: the list and the badge); `push_on_*` and
    `email_on_*` whether it also goes out as a Web Push or in the email digest. Digests
    come on `digest_schedule`; nothing but the app during quiet hours (in `time_zone`)
    or while snoozed."""

    notify_on_post_reactions: bool = True
    notify_on_post_comments: bool = True
    notify_on_blog_reactions: bool = True
    notify_on_blog_comments: bool = True
    aggregate_same_type: bool = True
    push_on_post_reactions: bool = True
    push_on_post_comments: bool = True
    push_on_blog_reactions: bool = True
    push_on_blog_comments: bool = True
    email_on_post_reactions: bool = True
    email_on_post_comments: bool = True
    email_on_blog_reactions: bool = True
    email_on_blog_comments: bool = True
    digest_schedule: DigestSchedule = "daily"
    time_zone: str = "UTC"
    quiet_hours_start: str | None = None
    quiet_hours_end: str | None = None
    snoozed_until: datetime | None = None


class PreferencesUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Any subset of the fields; the ones left out keep their value. A switch cannot be
    null; quiet hours (both ends together) and the snooze are cleared with null."""

    notify_on_post_reactions: bool | UnsetType = UNSET
    notify_on_post_comments: bool | UnsetType = UNSET
    notify_on_blog_reactions: bool | UnsetType = UNSET
    notify_on_blog_comments: bool | UnsetType = UNSET
    aggregate_same_type: bool | UnsetType = UNSET
    push_on_post_reactions: bool | UnsetType = UNSET
    push_on_post_comments: bool | UnsetType = UNSET
    push_on_blog_reactions: bool | UnsetType = UNSET
    push_on_blog_comments: bool | UnsetType = UNSET
    email_on_post_reactions: bool | UnsetType = UNSET
    email_on_post_comments: bool | UnsetType = UNSET
    email_on_blog_reactions: bool | UnsetType = UNSET
    email_on_blog_comments: bool | UnsetType = UNSET
    digest_schedule: DigestSchedule | UnsetType = UNSET
    time_zone: TimeZoneName | UnsetType = UNSET
    quiet_hours_start: ClockTime | None | UnsetType = UNSET
    quiet_hours_end: ClockTime | None | UnsetType = UNSET
    snoozed_until: datetime | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        # msgspec turns these into a 400 naming the problem.
        if (self.quiet_hours_start is UNSET) != (self.quiet_hours_end is UNSET) or (
                (self.quiet_hours_start is None) != (self.quiet_hours_end is None)):
            raise ValueError("quiet_hours_start and quiet_hours_end are set (or cleared) together")
        if self.quiet_hours_start is not UNSET and self.quiet_hours_start is not None \
                and self.quiet_hours_start == self.quiet_hours_end:
            raise ValueError("quiet hours must not start and end at the same time")
        if isinstance(self.time_zone, str) and not _known_time_zone(self.time_zone):
            raise ValueError(f"unknown time zone {self.time_zone!r} (an IANA name such as Europe/Paris)")
        if isinstance(self.snoozed_until, datetime) and self.snoozed_until.tzinfo is None:
            raise ValueError("snoozed_until needs a time zone offset")

    def changes(self) -> dict[str, object]:
        """Parameters of update_preferences.sql: each field's new value, None to keep it;
        for the nullable ones also whether to set them (null then clears)."""
        given = msgspec.structs.asdict(self)
        params: dict[str, object] = {name: None if value is UNSET else value
                                     for name, value in given.items()}
        params["set_quiet_hours"] = self.quiet_hours_start is not UNSET
        params["set_snoozed_until"] = self.snoozed_until is not UNSET
        return params


def _known_time_zone(name: str) -> bool:
    """An IANA zone this machine knows (PostgreSQL has its own copy of the same database)."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


MAX_MUTES = 1000  # per user: enough for every post a busy artist mutes, bounded for the probe
ContentId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class MuteRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Mute a post or blog post, or (with `comment_id`) the thread that comment is in."""

    content_type: Literal["post", "blog_post"]
    content_id: ContentId
    comment_id: uuid.UUID | None = None


class Mute(msgspec.Struct, kw_only=True):
    """A muted post or blog post (`thread_id` null), or one thread on it (`thread_id` is
    the thread's top-level comment). `content_title` is the one its newest notification
    copied, null when none is left."""

    id: int
    content_type: Literal["post", "blog_post"]
    content_id: int
    thread_id: uuid.UUID | None
    content_title: str | None
    created_at: datetime


class MuteList(msgspec.Struct, kw_only=True):
    items: list[Mute]


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
    # With Web Push on: queued pushes and the age of the oldest (detail, not readiness).
    push_outbox_depth: int | None = None
    push_outbox_oldest_seconds: float | None = None
