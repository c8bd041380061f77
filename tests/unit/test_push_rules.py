"""The push worker's pure decisions: the preference kinds, snooze, quiet hours, presence,
Topic and Retry-After."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pg_social_notifications.push_worker import (
    decide,
    preference_kind,
    retry_after_seconds,
    topic_for,
)
from pg_social_notifications.schemas import Notification, Preferences


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 15, hour, minute, tzinfo=UTC)


def notification(kind: str = "reaction", content: str = "post", content_id: int = 7) -> Notification:
    return Notification(id=uuid.uuid4(), user_id=1, seq=1, notification_type=kind,  # type: ignore[arg-type]
                        content_type=content, content_id=content_id,  # type: ignore[arg-type]
                        content_title="t", content_url=None, actor_id=2, actor_handle="a",
                        actor_avatar_url=None, emoji="🔥", comment_id=None, comment_preview=None,
                        is_read=False, read_at=None, created_at=at(12))


def test_preference_kinds() -> None:
    assert preference_kind("reaction", "post") == "post_reactions"
    assert preference_kind("comment", "post") == "post_comments"
    assert preference_kind("reaction", "blog_post") == "blog_reactions"
    assert preference_kind("comment", "blog_post") == "blog_comments"


def test_decide() -> None:
    now = at(12)
    assert decide(notification(), Preferences(), now, present=False) is None
    assert decide(notification(), Preferences(), now, present=True) == "socket_open"
    assert decide(notification("comment", "blog_post"), Preferences(push_on_blog_comments=False),
                  now, False) == "preferences"
    assert decide(notification(), Preferences(push_on_blog_comments=False), now, False) is None
    snoozed = Preferences(snoozed_until=now + timedelta(hours=1))
    assert decide(notification(), snoozed, now, False) == "snoozed"
    assert decide(notification(), Preferences(snoozed_until=now - timedelta(hours=1)), now, False) is None
    assert decide(notification(), Preferences(quiet_hours_start="11:00", quiet_hours_end="13:00"),
                  now, False) == "quiet_hours"


def test_topic_is_one_per_content_item_and_at_most_32_url_safe_characters() -> None:
    topic = topic_for(notification())
    assert len(topic) == 32 and all(c.isalnum() or c in "-_" for c in topic)
    assert topic == topic_for(notification("comment", "post", 7))
    assert topic != topic_for(notification("reaction", "blog_post", 7))
    assert topic != topic_for(notification("reaction", "post", 8))


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Fri, 15 Jan 2027 08:00:10 GMT", 1_800_000_000.0) is not None
    date = datetime.fromtimestamp(now + 30, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert retry_after_seconds(date, now) == pytest.approx(30, abs=1)
    assert retry_after_seconds(None, now) is None and retry_after_seconds("soon", now) is None
