"""The database caps the notifications one actor can cause one recipient per hour.

Core v2: host triggers read the hourly buckets (notification_rate_limits) that
only the sequencer writes, plus the earlier rows of the same statement. So the
cap is exact within one statement, and across transactions once the sequencer
has run between them.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from devkit.hostdata import add_post, add_user, comment, react, sequence, unread_state
from pg_social_notifications.queries import sql
from pg_social_notifications.retention import run_cleanup

Conn = psycopg.Connection[Any]


def per_actor(conn: Conn, owner: int) -> list[tuple[str, str | None, int]]:
    return [(str(h), ip, int(n)) for h, ip, n in conn.execute(
        "SELECT actor_handle, actor_ip, count(*) FROM notifications WHERE user_id = %s"
        " GROUP BY 1, 2 ORDER BY 1, 2", (owner,))]


def buckets(conn: Conn, owner: int) -> dict[str, int]:
    return {str(key): int(n) for key, n in conn.execute(
        "SELECT actor_key, notifications FROM notification_rate_limits"
        " WHERE user_id = %s AND hour = date_trunc('hour', now())", (owner,))}


def test_cap_is_exact_within_one_statement(conn: Conn) -> None:
    """One multi-row INSERT of 1,000 reactions by one actor notifies its recipient exactly `max` times,
    per recipient and per actor, anonymous actors keyed by IP."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 5")
    owner, other_owner = add_user(conn, "owner"), add_user(conn, "owner2")
    spammer, friend = add_user(conn, "spammer"), add_user(conn, "friend")
    post, other_post = add_post(conn, owner), add_post(conn, other_owner)
    conn.execute(
        "INSERT INTO reactions (post_id, user_id, user_ip, emoji)"
        " SELECT %(post)s, %(spammer)s, NULL, 'x' FROM generate_series(1, 1000)"
        " UNION ALL SELECT %(post)s, %(friend)s, NULL, 'f' FROM generate_series(1, 3)"
        " UNION ALL SELECT %(other)s, %(spammer)s, NULL, 'o' FROM generate_series(1, 7)"
        " UNION ALL SELECT %(post)s, NULL, '198.51.100.7', 'a' FROM generate_series(1, 9)"
        " UNION ALL SELECT %(post)s, NULL, '198.51.100.8', 'b' FROM generate_series(1, 2)",
        {"post": post, "other": other_post, "spammer": spammer, "friend": friend})
    assert conn.execute("SELECT count(*) FROM reactions").fetchone() == (1021,)  # all succeed
    assert per_actor(conn, owner) == [("Anonymous", "198.51.100.7", 5), ("Anonymous", "198.51.100.8", 2),
                                      ("friend", None, 3), ("spammer", None, 5)]
    assert per_actor(conn, other_owner) == [("spammer", None, 5)]
    assert unread_state(conn, owner) == (15, 15)
    assert unread_state(conn, other_owner) == (5, 5)
    assert buckets(conn, owner) == {f"user:{spammer}": 5, f"user:{friend}": 3,
                                    "ip:198.51.100.7": 5, "ip:198.51.100.8": 2}


def test_cap_holds_across_transactions_once_sequenced(conn: Conn) -> None:
    """Past the hourly limit an actor's writes in later transactions still succeed but notify nobody."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 3")
    owner, other_owner = add_user(conn, "owner"), add_user(conn, "owner2")
    spammer, friend = add_user(conn, "spammer"), add_user(conn, "friend")
    post, other_post = add_post(conn, owner), add_post(conn, other_owner)
    for i in range(5):
        react(conn, post, spammer, str(i))
        sequence(conn)  # as the running service does after every commit
    comment(conn, post, spammer, "one more")  # a comment counts against the same cap
    sequence(conn)
    react(conn, post, friend)  # someone else is not affected
    react(conn, other_post, spammer)  # nor is another recipient
    for i in range(4):
        react(conn, post, None, str(i), ip="198.51.100.7")  # anonymous actors are keyed by IP
        sequence(conn)
    react(conn, post, None, "x", ip="198.51.100.8")  # another IP is another actor
    assert per_actor(conn, owner) == [("Anonymous", "198.51.100.7", 3), ("Anonymous", "198.51.100.8", 1),
                                      ("friend", None, 1), ("spammer", None, 3)]
    assert conn.execute("SELECT count(*) FROM reactions").fetchone() == (12,)
    assert conn.execute("SELECT count(*) FROM comments").fetchone() == (1,)
    assert unread_state(conn, owner) == (8, 8)
    assert unread_state(conn, other_owner) == (1, 1)


def test_unsequenced_transactions_pass_until_the_sequencer_counts_them(conn: Conn) -> None:
    """Separate transactions with no sequencing between them all notify (the documented bound);
    once the sequencer has counted them, the actor's next write is capped."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 3")
    owner, spammer = add_user(conn, "owner"), add_user(conn, "spammer")
    post = add_post(conn, owner)
    for i in range(5):
        react(conn, post, spammer, str(i))
    assert per_actor(conn, owner) == [("spammer", None, 5)]
    sequence(conn)
    assert buckets(conn, owner) == {f"user:{spammer}": 5}
    react(conn, post, spammer, "late")
    comment(conn, post, spammer, "late too")
    assert per_actor(conn, owner) == [("spammer", None, 5)]
    assert unread_state(conn, owner) == (5, 5)


def test_edits_past_the_cap_are_not_carried_over_or_announced(conn: Conn, database_url: str) -> None:
    """An emoji or comment edit updates (and announces) the notification only while the actor is
    under this hour's cap, and each applied edit counts towards it."""
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = 3")
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    reaction = react(conn, post, actor, "🔥")
    comment_id: uuid.UUID = comment(conn, post, actor, "first")
    sequence(conn)
    assert buckets(conn, owner) == {f"user:{actor}": 2}
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(sql("listen_notifications"))
        conn.execute("UPDATE comments SET body = 'second' WHERE id = %s", (comment_id,))
        sequence(conn)  # under the cap: carried over, announced, counted
        assert [n.payload for n in listener.notifies(timeout=0.5)] == [str(owner)]
        assert buckets(conn, owner) == {f"user:{actor}": 3}
        conn.execute("UPDATE reactions SET emoji = '🎉' WHERE id = %s", (reaction,))
        conn.execute("UPDATE comments SET body = 'third' WHERE id = %s", (comment_id,))
        assert sequence(conn) == 2  # both requests taken, neither applied: no change to number
        assert list(listener.notifies(timeout=0.5)) == []
    assert conn.execute("SELECT emoji, comment_preview FROM notifications ORDER BY seq").fetchall() == [
        ("🔥", None), (None, "second")]
    assert conn.execute("SELECT array_agg(kind ORDER BY seq) FROM notification_events"
                        " WHERE user_id = %s", (owner,)).fetchone() == (["created", "created", "updated"],)
    assert buckets(conn, owner) == {f"user:{actor}": 3}
    assert conn.execute("SELECT count(*) FROM notification_requests").fetchone() == (0,)


def test_default_limit_is_720_and_null_turns_it_off(conn: Conn) -> None:
    """The default is the live site's 720 per hour (1,000 reactions in one statement notify 720);
    NULL disables the cap."""
    assert conn.execute("SELECT max_per_actor_per_hour FROM notification_settings").fetchone() == (720,)
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji)"
                 " SELECT %s, %s, 'x' FROM generate_series(1, 1000)", (post, actor))
    assert unread_state(conn, owner) == (720, 720)
    react(conn, post, actor)  # counted by the sequencer: over the cap
    assert unread_state(conn, owner) == (720, 720)
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")
    react(conn, post, actor)
    assert unread_state(conn, owner) == (721, 721)


def test_retention_drops_past_rate_limit_hours(conn: Conn) -> None:
    """Old hourly buckets are deleted by the retention job; the current one stays."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    react(conn, add_post(conn, owner), actor)
    sequence(conn)  # the sequencer writes this hour's bucket
    conn.execute("INSERT INTO notification_rate_limits (user_id, actor_key, hour, notifications)"
                 " VALUES (%s, 'user:1', date_trunc('hour', now()) - interval '3 hours', 9)", (owner,))
    run_cleanup(conn.info.dsn, retention_days=90, event_retention_days=7)
    hours = conn.execute("SELECT notifications FROM notification_rate_limits").fetchall()
    assert hours == [(1,)]
