"""Mutes against a real service and the real triggers: a muted post, blog post or comment
thread makes no notification row and moves no counter, in every host write path, until
it is unmuted; the API keeps each user's list to themselves and refuses bad input."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from devkit.hostdata import (
    add_blog_post,
    add_post,
    comment,
    comment_blog,
    react,
    react_blog,
    wait_until_sequenced,
)
from devkit.servers import ServiceProcess
from devkit.tokens import make_token
from tests.integration.service_fixtures import db, new_user, service, shared_database_url

__all__ = ["db", "service", "shared_database_url"]
pytestmark = pytest.mark.timeout(60)
API = "/api/notifications"


def client(svc: ServiceProcess, user_id: int) -> httpx.Client:
    return httpx.Client(base_url=svc.base_url + API, timeout=10,
                        headers={"Authorization": f"Bearer {make_token(user_id, svc.secret)}"})


def rows_and_badge(db: psycopg.Connection[Any], user_id: int) -> tuple[int, int]:
    """(notification rows, unread badge) of a user, after the sequencer caught up."""
    wait_until_sequenced(db)
    row = db.execute(
        "SELECT (SELECT count(*) FROM notifications WHERE user_id = %(u)s),"
        " coalesce((SELECT unread_count FROM notification_counters WHERE user_id = %(u)s), 0)",
        {"u": user_id}).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_muted_post_notifies_nothing_until_unmuted(service: ServiceProcess,
                                                     db: psycopg.Connection[Any]) -> None:
    """Reactions and comments on a muted post make no row and leave the badge; another
    post still notifies; after unmuting, the post notifies again."""
    owner, fan = new_user(db), new_user(db)
    muted, other = add_post(db, owner, "Quiet one"), add_post(db, owner, "Loud one")
    react(db, muted, fan)  # before the mute: notifies, and gives the mute its title
    with client(service, owner) as c:
        mute = c.post("/mutes", json={"content_type": "post", "content_id": muted})
        assert mute.status_code == 200, mute.text
        assert mute.json()["thread_id"] is None and mute.json()["content_title"] == "Quiet one"
        assert rows_and_badge(db, owner) == (1, 1)
        react(db, muted, fan, "❤️")
        comment(db, muted, fan, "lovely")
        db.execute("INSERT INTO reactions (post_id, user_id, emoji)"  # a bulk statement
                   " SELECT %s, %s, 'e' || g FROM generate_series(1, 5) g", (muted, fan))
        assert rows_and_badge(db, owner) == (1, 1)
        react(db, other, fan)
        assert rows_and_badge(db, owner) == (2, 2)
        assert c.get("/mutes").json()["items"] == [mute.json()]
        assert c.delete(f"/mutes/{mute.json()['id']}").status_code == 204
        assert c.get("/mutes").json()["items"] == []
    react(db, muted, fan, "🎉")
    assert rows_and_badge(db, owner) == (3, 3)


def test_a_muted_blog_post_and_a_bulk_insert_of_comments(service: ServiceProcess,
                                                         db: psycopg.Connection[Any]) -> None:
    """A blog post mute holds for its reactions and for a many-row comment INSERT
    (notification_create_many), and mutes only that blog post."""
    owner, fan = new_user(db), new_user(db)
    blog, other = add_blog_post(db, owner), add_blog_post(db, owner)
    with client(service, owner) as c:
        assert c.post("/mutes", json={"content_type": "blog_post", "content_id": blog}
                      ).status_code == 200
    react_blog(db, blog, fan)
    db.execute("INSERT INTO blog_post_comments (id, blog_post_id, author_id, body)"
               " SELECT gen_random_uuid(), b, %s, 'hi' FROM unnest(%s::int[]) AS b",
               (fan, [blog, other, blog]))
    assert rows_and_badge(db, owner) == (1, 1)
    kinds = db.execute("SELECT blog_post_id FROM notifications WHERE user_id = %s",
                       (owner,)).fetchall()
    assert kinds == [(other,)]


def test_a_muted_thread_silences_its_replies_only(service: ServiceProcess,
                                                  db: psycopg.Connection[Any]) -> None:
    """Muting from a reply mutes its whole thread (from the top-level comment down): new
    replies at any depth notify nothing, while another thread, a new top-level comment
    and reactions still notify; in the many-row path too."""
    owner, fan = new_user(db), new_user(db)
    post = add_post(db, owner)
    root = comment(db, post, fan, "root")
    reply = comment(db, post, fan, "reply", parent_id=root)
    elsewhere = comment(db, post, fan, "another thread")
    assert rows_and_badge(db, owner) == (3, 3)
    with client(service, owner) as c:
        mute = c.post("/mutes", json={"content_type": "post", "content_id": post,
                                      "comment_id": str(reply)}).json()
    assert mute["thread_id"] == str(root)
    deep = comment(db, post, fan, "deeper", parent_id=reply)
    comment(db, post, fan, "deepest", parent_id=deep)
    comment(db, post, fan, "again", parent_id=root)
    assert rows_and_badge(db, owner) == (3, 3)
    comment(db, post, fan, "answer elsewhere", parent_id=elsewhere)
    comment(db, post, fan, "new top level")
    react(db, post, fan)
    assert rows_and_badge(db, owner) == (6, 6)
    db.execute("INSERT INTO comments (id, post_id, author_id, body, parent_id)"
               " VALUES (gen_random_uuid(), %(p)s, %(f)s, 'bulk muted', %(r)s),"
               "        (gen_random_uuid(), %(p)s, %(f)s, 'bulk heard', %(e)s)",
               {"p": post, "f": fan, "r": reply, "e": elsewhere})
    assert rows_and_badge(db, owner) == (7, 7)
    previews = {r[0] for r in db.execute(
        "SELECT comment_preview FROM notifications WHERE user_id = %s", (owner,))}
    assert not previews & {"deeper", "deepest", "again", "bulk muted"}


def test_a_muted_blog_thread_and_an_undelete_inside_it(service: ServiceProcess,
                                                       db: psycopg.Connection[Any]) -> None:
    """On a blog post, a thread mute holds for a reply, and for a reply that an undelete
    makes visible again (the UPDATE path creates notifications too)."""
    owner, fan = new_user(db), new_user(db)
    blog = add_blog_post(db, owner)
    root = comment_blog(db, blog, fan, "root")
    hidden = comment_blog(db, blog, fan, "hidden reply", parent_id=root)
    db.execute("UPDATE blog_post_comments SET deleted_by_owner = true WHERE id = %s", (hidden,))
    assert rows_and_badge(db, owner) == (1, 1)
    with client(service, owner) as c:
        assert c.post("/mutes", json={"content_type": "blog_post", "content_id": blog,
                                      "comment_id": str(root)}).status_code == 200
    comment_blog(db, blog, fan, "reply", parent_id=root)
    db.execute("UPDATE blog_post_comments SET deleted_by_owner = false WHERE id = %s", (hidden,))
    assert rows_and_badge(db, owner) == (1, 1)


def test_a_cycle_in_the_hosts_comment_tree_cannot_hold_a_host_write(
        service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """Host data with a parent cycle: the thread lookup stops after its bound and the
    host's INSERT succeeds (the comment notifies, being in no muted thread)."""
    owner, fan = new_user(db), new_user(db)
    post = add_post(db, owner)
    a = comment(db, post, fan, "a")
    b = comment(db, post, fan, "b", parent_id=a)
    db.execute("UPDATE comments SET parent_id = %s WHERE id = %s", (b, a))  # a <-> b
    muted_root = comment(db, post, fan, "muted root")
    with client(service, owner) as c:
        assert c.post("/mutes", json={"content_type": "post", "content_id": post,
                                      "comment_id": str(muted_root)}).status_code == 200
    comment(db, post, fan, "inside the cycle", parent_id=b)
    assert rows_and_badge(db, owner) == (4, 4)


def test_mutes_are_each_users_own(service: ServiceProcess, db: psycopg.Connection[Any]) -> None:
    """A user sees and unmutes only their own mutes; muting again returns the same mute;
    another user's mute of the same post changes nothing for the owner."""
    owner, other, fan = new_user(db), new_user(db), new_user(db)
    post = add_post(db, owner)
    with client(service, owner) as mine, client(service, other) as theirs:
        first = mine.post("/mutes", json={"content_type": "post", "content_id": post}).json()
        again = mine.post("/mutes", json={"content_type": "post", "content_id": post}).json()
        assert again == first
        assert theirs.get("/mutes").json()["items"] == []
        assert theirs.delete(f"/mutes/{first['id']}").status_code == 404
        assert len(mine.get("/mutes").json()["items"]) == 1
        assert mine.delete(f"/mutes/{first['id']}").status_code == 204
        assert mine.delete(f"/mutes/{first['id']}").status_code == 404
        theirs.post("/mutes", json={"content_type": "post", "content_id": post})
    react(db, post, fan)
    assert rows_and_badge(db, owner) == (1, 1)


@pytest.mark.parametrize("body", [
    {"content_type": "post"},
    {"content_type": "story", "content_id": 1},
    {"content_type": "post", "content_id": 0},
    {"content_type": "post", "content_id": 2**31},
    {"content_type": "post", "content_id": "1"},
    {"content_type": "post", "content_id": 1, "comment_id": "not-a-uuid"},
    {"content_type": "post", "content_id": 1, "thread": True},
    [1, 2],
])
def test_bad_mute_bodies_are_400(service: ServiceProcess, db: psycopg.Connection[Any],
                                 body: Any) -> None:
    with client(service, new_user(db)) as c:
        response = c.post("/mutes", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


def test_a_thread_mute_needs_a_comment_on_that_content(service: ServiceProcess,
                                                       db: psycopg.Connection[Any]) -> None:
    """404 for an unknown comment or one on another post; a malformed mute id is a 4xx."""
    owner, fan = new_user(db), new_user(db)
    post, other = add_post(db, owner), add_post(db, owner)
    elsewhere = comment(db, other, fan, "on the other post")
    with client(service, owner) as c:
        for comment_id in (uuid.uuid4(), elsewhere):
            response = c.post("/mutes", json={"content_type": "post", "content_id": post,
                                              "comment_id": str(comment_id)})
            assert response.status_code == 404, response.text
        assert c.get("/mutes").json()["items"] == []
        assert 400 <= c.delete("/mutes/abc").status_code < 500
        assert c.delete(f"/mutes/{2**63}").status_code in (400, 404)


def test_the_number_of_mutes_is_bounded(service: ServiceProcess,
                                        db: psycopg.Connection[Any]) -> None:
    """Past MAX_MUTES a new mute gets 409; muting one already muted still answers it."""
    from pg_social_notifications.schemas import MAX_MUTES

    user = new_user(db)
    db.execute("INSERT INTO notification_mutes (user_id, content_type, content_id)"
               " SELECT %s, 'post', g FROM generate_series(1, %s) g", (user, MAX_MUTES))
    with client(service, user) as c:
        refused = c.post("/mutes", json={"content_type": "post", "content_id": MAX_MUTES + 1})
        assert refused.status_code == 409 and str(MAX_MUTES) in refused.json()["detail"]
        assert c.post("/mutes", json={"content_type": "post", "content_id": 1}).status_code == 200
        assert len(c.get("/mutes").json()["items"]) == MAX_MUTES
