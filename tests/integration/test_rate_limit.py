"""The database caps the notifications one actor can cause one recipient per hour."""

from __future__ import annotations

from typing import Any

import psycopg

from service.retention import run_cleanup
from tests.hostdata import add_post, add_user, comment, react, unread_state

Conn = psycopg.Connection[Any]


def test_actor_is_capped_per_recipient_per_hour(conn: Conn) -> None:
    """Past the hourly limit an actor's writes still succeed but notify nobody."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 3")
    owner, other_owner = add_user(conn, "owner"), add_user(conn, "owner2")
    spammer, friend = add_user(conn, "spammer"), add_user(conn, "friend")
    post, other_post = add_post(conn, owner), add_post(conn, other_owner)
    for i in range(5):
        react(conn, post, spammer, str(i))
    comment(conn, post, spammer, "one more")
    react(conn, post, friend)  # someone else is not affected
    react(conn, other_post, spammer)  # nor is another recipient
    for i in range(4):
        react(conn, post, None, str(i), ip="198.51.100.7")  # anonymous actors are keyed by IP
    rows = conn.execute("SELECT actor_handle, count(*) FROM notifications WHERE user_id = %s"
                        " GROUP BY 1 ORDER BY 1", (owner,)).fetchall()
    assert rows == [("Anonymous", 3), ("friend", 1), ("spammer", 3)]
    assert conn.execute("SELECT count(*) FROM reactions").fetchone() == (11,)
    assert unread_state(conn, owner) == (7, 7)
    assert unread_state(conn, other_owner) == (1, 1)


def test_default_limit_is_720_and_null_turns_it_off(conn: Conn) -> None:
    """The default is the live site's 720 per hour; NULL disables the cap."""
    assert conn.execute("SELECT max_per_actor_per_hour FROM notification_settings").fetchone() == (720,)
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                 " SELECT %s, %s, 'x' FROM generate_series(1, 730)", (post, actor))
    assert unread_state(conn, owner) == (720, 720)
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")
    react(conn, post, actor)
    assert unread_state(conn, owner) == (721, 721)


def test_retention_drops_past_rate_limit_hours(conn: Conn) -> None:
    """Old hourly buckets are deleted by the retention job; the current one stays."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    react(conn, add_post(conn, owner), actor)
    conn.execute("INSERT INTO notification_rate_limits (user_id, actor_key, hour, notifications)"
                 " VALUES (%s, 'user:1', date_trunc('hour', now()) - interval '3 hours', 9)", (owner,))
    run_cleanup(conn.info.dsn, retention_days=90, event_retention_days=7)
    hours = conn.execute("SELECT notifications FROM notification_rate_limits").fetchall()
    assert hours == [(1,)]
