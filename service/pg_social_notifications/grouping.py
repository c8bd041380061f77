"""The grouped view: "5 people reacted to your artwork", honouring aggregate_same_type."""

from __future__ import annotations

from typing import Any

from pg_social_notifications.schemas import GroupActor, GroupPage, NotificationGroup
from pg_social_notifications.store import NotificationStore

ACTOR_SAMPLE = 3


def _actor_sample(ids: list[int | None], handles: list[str]) -> list[GroupActor]:
    """At most ACTOR_SAMPLE distinct actors, newest first (anonymous ones by handle)."""
    seen: set[tuple[int | None, str]] = set()
    sample: list[GroupActor] = []
    for actor_id, handle in zip(ids, handles, strict=True):
        key = (actor_id, handle if actor_id is None else "")
        if key in seen:
            continue
        seen.add(key)
        sample.append(GroupActor(actor_id=actor_id, actor_handle=handle))
        if len(sample) == ACTOR_SAMPLE:
            break
    return sample


def _group_from_row(row: dict[str, Any]) -> NotificationGroup:
    return NotificationGroup(
        notification_type=row["notification_type"], content_type=row["content_type"],
        content_id=row["content_id"], content_title=row["content_title"],
        content_url=row["content_url"], total=row["total"], unread=row["unread"],
        actors=_actor_sample(row["actor_ids"], row["actor_handles"]),
        emojis=list(dict.fromkeys(row["emojis"])), latest_at=row["latest_at"],
        latest_seq=row["latest_seq"], notification_ids=row["notification_ids"],
    )


async def list_groups(store: NotificationStore, user_id: int, *, limit: int,
                      window_hours: int) -> GroupPage:
    found = await store.groups(user_id, window_hours=window_hours, limit=limit)
    return GroupPage(groups=[_group_from_row(r) for r in found.rows],
                     aggregated=found.preferences.aggregate_same_type,
                     unread_count=found.badge.unread_count, position=found.badge.position)
