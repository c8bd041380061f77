"""Writes to the host's tables in plain SQL, the way the host application does: one row at
a time (`add_user`, `react`, ...), or a whole site's users and posts at once (`seed_site`)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg

# A site's users 1..users: handle 'user<g>', an avatar, public_sqid 'u<g>' if asked for.
SEED_USERS = """
INSERT INTO users (handle, public_sqid, avatar_url)
SELECT 'user' || g, CASE WHEN %(sqids)s THEN 'u' || g END, 'https://avatars.example/' || g || '.png'
  FROM generate_series(1, %(users)s::int) g
"""
# Their posts 1..users * per_user. Post p belongs to user 1 + (p - 1) % users (user u holds
# u, u + users, u + 2 * users, ...), or with `consecutive` to user 1 + (p - 1) / per_user
# (user u holds (u - 1) * per_user + 1 to u * per_user).
SEED_POSTS = """
INSERT INTO posts (owner_id, title, art_url)
SELECT CASE WHEN %(consecutive)s THEN 1 + (g - 1) / %(per_user)s::int
            ELSE 1 + (g - 1) %% %(users)s::int END,
       'Artwork ' || g, 'https://art.example/' || g || '.png'
  FROM generate_series(1, %(users)s::int * %(per_user)s::int) g
"""
# Blog post b belongs to user b.
SEED_BLOG_POSTS = """
INSERT INTO blog_posts (owner_id, title, body, public_sqid)
SELECT g, 'Blog post ' || g, 'Some words.', 'b' || g FROM generate_series(1, %(users)s::int) g
"""


def seed_site(conn: psycopg.Connection[Any], users: int, *, posts_per_user: int = 1,
              consecutive_posts: bool = False, sqids: bool = False,
              blog_posts: bool = False) -> None:
    """Users 1..`users` and `posts_per_user` posts each (SEED_POSTS says whose post is
    whose), with `blog_posts` one blog post each, in set-based statements: the ids
    are 1, 2, ... only in empty host tables, which every caller starts from."""
    params = {"users": users, "per_user": posts_per_user, "sqids": sqids,
              "consecutive": consecutive_posts}
    conn.execute(SEED_USERS, params)
    conn.execute(SEED_POSTS, params)
    if blog_posts:
        conn.execute(SEED_BLOG_POSTS, params)


def add_user(conn: psycopg.Connection[Any], handle: str, sqid: str | None = None) -> int:
    row = conn.execute(
        "INSERT INTO users (handle, public_sqid) VALUES (%s, %s) RETURNING id", (handle, sqid)
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_post(conn: psycopg.Connection[Any], owner_id: int, title: str = "Artwork",
             art_url: str | None = "https://art.example/a.png") -> int:
    row = conn.execute(
        "INSERT INTO posts (owner_id, title, art_url) VALUES (%s, %s, %s) RETURNING id",
        (owner_id, title, art_url),
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_blog_post(conn: psycopg.Connection[Any], owner_id: int, title: str = "Blog",
                  sqid: str | None = None) -> int:
    row = conn.execute(
        "INSERT INTO blog_posts (owner_id, title, body, public_sqid)"
        " VALUES (%s, %s, 'body', %s) RETURNING id",
        (owner_id, title, sqid),
    ).fetchone()
    assert row is not None
    return int(row[0])


def react(conn: psycopg.Connection[Any], post_id: int, user_id: int | None,
          emoji: str = "🔥", ip: str | None = None) -> int:
    row = conn.execute(
        "INSERT INTO reactions (post_id, user_id, user_ip, emoji) VALUES (%s, %s, %s, %s)"
        " RETURNING id",
        (post_id, user_id, ip, emoji),
    ).fetchone()
    assert row is not None
    return int(row[0])


def react_blog(conn: psycopg.Connection[Any], blog_post_id: int, user_id: int | None,
               emoji: str = "👍", ip: str | None = None) -> int:
    row = conn.execute(
        "INSERT INTO blog_post_reactions (blog_post_id, user_id, user_ip, emoji)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (blog_post_id, user_id, ip, emoji),
    ).fetchone()
    assert row is not None
    return int(row[0])


def comment(conn: psycopg.Connection[Any], post_id: int, author_id: int | None, body: str,
            ip: str | None = None, parent_id: uuid.UUID | None = None) -> uuid.UUID:
    comment_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO comments (id, post_id, author_id, author_ip, body, parent_id)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (comment_id, post_id, author_id, ip, body, parent_id),
    )
    return comment_id


def comment_blog(conn: psycopg.Connection[Any], blog_post_id: int, author_id: int | None,
                 body: str, ip: str | None = None, parent_id: uuid.UUID | None = None
                 ) -> uuid.UUID:
    comment_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO blog_post_comments (id, blog_post_id, author_id, author_ip, body, parent_id)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (comment_id, blog_post_id, author_id, ip, body, parent_id),
    )
    return comment_id


def sequence(conn: psycopg.Connection[Any]) -> int:
    """Run the sequencer until nothing is pending, as the service does after host commits.

    Returns how many requests and changes it took. `conn` must be in autocommit mode.
    """
    total = 0
    while True:
        row = conn.execute("SELECT notification_sequence(5000)").fetchone()
        taken = int(row[0]) if row is not None else 0
        total += taken
        if taken == 0:
            return total


def wait_until_sequenced(conn: psycopg.Connection[Any], timeout: float = 10.0) -> None:
    """Wait for a running service's sequencer to take every committed change and request.

    Host writes get their stream positions after the commit (docs/DBA.md), so a
    test that connects a socket right after writing waits for this first.
    """
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM notification_changes)"
                           " OR EXISTS (SELECT 1 FROM notification_requests)").fetchone()
        if row is not None and not row[0]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the sequencer did not take the pending changes")
        time.sleep(0.005)


def unread_state(conn: psycopg.Connection[Any], user_id: int) -> tuple[int, int]:
    """(badge, actual number of unread rows) for one user, after sequencing what is pending.

    The badge is the sequencer's count, which the socket's hello reports; the
    REST badge (count plus pending deltas) equals it once nothing is pending.
    """
    sequence(conn)
    row = conn.execute(
        "SELECT coalesce((SELECT unread_count FROM notification_counters WHERE user_id = %(u)s), 0),"
        " (SELECT count(*) FROM notifications WHERE user_id = %(u)s AND NOT is_read)",
        {"u": user_id},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
