"""The grouped view: same kind on the same content within a window, honouring the preference."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import add_blog_post, add_post, comment, react, react_blog, wait_until_sequenced
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)


def groups(svc: ServiceProcess, user: int, **params: Any) -> httpx.Response:
    return httpx.get(svc.base_url + "/api/notifications/groups", params=params,
                     headers={"Authorization": f"Bearer {make_token(user, svc.secret)}"})


def test_reactions_on_one_post_form_one_group(service: ServiceProcess,
                                              db: psycopg.Connection[Any]) -> None:
    """Five reactions on one artwork are one group with total 5, 3 newest actors and the emojis."""
    owner = new_user(db)
    post, other_post, blog = add_post(db, owner, "Sunset"), add_post(db, owner), add_blog_post(db, owner)
    actors = [new_user(db, f"actor{i}") for i in range(4)]
    for actor, emoji in zip(actors, ["🔥", "❤️", "🔥", "👍"], strict=True):
        react(db, post, actor, emoji)
    react(db, post, actors[3], "🔥")  # the newest actor again, with another emoji
    comment(db, post, actors[0], "nice")
    react(db, other_post, actors[1])
    react_blog(db, blog, actors[2])
    wait_until_sequenced(db)  # the running service's sequencer gives the 8 positions
    page = groups(service, owner).json()
    assert page["aggregated"] is True and page["unread_count"] == 8 and page["position"] == 8
    kinds = [(g["notification_type"], g["content_type"], g["content_id"], g["total"])
             for g in page["groups"]]
    assert kinds == [("reaction", "blog_post", blog, 1), ("reaction", "post", other_post, 1),
                     ("comment", "post", post, 1), ("reaction", "post", post, 5)]
    sunset = page["groups"][3]
    assert sunset["content_title"] == "Sunset" and sunset["unread"] == 5
    assert [a["actor_id"] for a in sunset["actors"]] == [actors[3], actors[2], actors[1]]
    assert sunset["emojis"] == ["🔥", "👍", "❤️"]
    # latest_seq is the list-order key (notifications.seq) of the group's newest member.
    newest = db.execute("SELECT id, seq FROM notifications WHERE user_id = %s AND post_id = %s"
                        " AND notification_type = 'reaction' ORDER BY seq DESC", (owner, post)).fetchall()
    assert sunset["notification_ids"] == [str(i) for i, _ in newest]
    assert len(newest) == 5 and sunset["latest_seq"] == newest[0][1]
    assert [g["latest_seq"] for g in page["groups"]] == sorted(
        (g["latest_seq"] for g in page["groups"]), reverse=True)


def test_aggregate_off_makes_every_notification_its_own_group(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """With aggregate_same_type off, each notification is a group of one."""
    owner, actor, other = new_user(db), new_user(db), new_user(db)
    post = add_post(db, owner)
    react(db, post, actor)
    react(db, post, other)
    httpx.put(service.base_url + "/api/notifications/preferences",
              json={"aggregate_same_type": False},
              headers={"Authorization": f"Bearer {make_token(owner, service.secret)}"})
    page = groups(service, owner).json()
    assert page["aggregated"] is False
    assert [g["total"] for g in page["groups"]] == [1, 1]


def test_window_limit_and_validation(service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Old notifications fall outside the window; limit caps groups; bad values get 400."""
    owner, actor = new_user(db), new_user(db)
    react(db, add_post(db, owner), actor)
    react(db, add_post(db, owner), actor)
    db.execute("UPDATE notifications SET created_at = now() - interval '3 hours'"
               " WHERE seq = (SELECT min(seq) FROM notifications WHERE user_id = %s)", (owner,))
    assert len(groups(service, owner).json()["groups"]) == 2
    assert len(groups(service, owner, window_hours=2).json()["groups"]) == 1
    assert len(groups(service, owner, limit=1).json()["groups"]) == 1
    for params in ({"limit": 0}, {"limit": 101}, {"window_hours": 0}, {"window_hours": 721},
                   {"window_hours": "x"}):
        assert groups(service, owner, **params).status_code == 400
