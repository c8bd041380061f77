"""The push outbox is filled by the sequencer, after the host's commit: one row per new
notification and push subscription of its recipient, none for users without one, and
none written by the host's own transaction."""

from __future__ import annotations

from typing import Any

import psycopg

from devkit.hostdata import add_post, add_user, comment, react, sequence


def subscribe(conn: psycopg.Connection[Any], user_id: int, endpoint: str) -> int:
    row = conn.execute(
        "INSERT INTO notification_push_subscriptions (user_id, endpoint, p256dh, auth)"
        " VALUES (%s, %s, 'key', 'secret') RETURNING id", (user_id, endpoint)).fetchone()
    assert row is not None
    return int(row[0])


def test_the_sequencer_queues_one_push_per_new_notification_and_subscription(
        conn: psycopg.Connection[Any]) -> None:
    owner, other, actor = add_user(conn, "pushed"), add_user(conn, "unpushed"), add_user(conn, "actor")
    phone = subscribe(conn, owner, "https://push.example/phone")
    laptop = subscribe(conn, owner, "https://push.example/laptop")
    post, quiet_post = add_post(conn, owner), add_post(conn, other)
    with conn.transaction():
        react(conn, post, actor, "🔥")
        comment(conn, post, actor, "lovely")
        react(conn, quiet_post, actor, "👍")
        # Nothing is queued inside the host's transaction.
        assert conn.execute("SELECT count(*) FROM notification_push_outbox").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM notification_push_outbox").fetchone() == (0,)
    sequence(conn)
    rows = conn.execute(
        "SELECT o.subscription_id, n.notification_type FROM notification_push_outbox AS o"
        " JOIN notifications AS n ON n.id = o.notification_id AND n.user_id = o.user_id"
        " ORDER BY 1, 2").fetchall()
    assert rows == [(phone, "comment"), (phone, "reaction"), (laptop, "comment"), (laptop, "reaction")]
    # A retraction or a read changes nothing here: only creations are queued.
    conn.execute("DELETE FROM reactions WHERE post_id = %s", (post,))
    sequence(conn)
    assert conn.execute("SELECT count(*) FROM notification_push_outbox").fetchone() == (4,)
    # A subscription that goes takes its queued pushes with it.
    conn.execute("DELETE FROM notification_push_subscriptions WHERE id = %s", (phone,))
    assert conn.execute("SELECT count(*) FROM notification_push_outbox").fetchone() == (2,)
