"""pg_notify announcements: sent by the sequencer, once per batch, listing each moved user once.

Host transactions never announce (core v2, docs/DBA.md): the sequencer
(notification_sequence(), run here by `sequence(conn)`) sends one NOTIFY on
'notifications_v2' per batch, its payload the comma-separated ids of the
users whose stream moved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from devkit.hostdata import (
    add_blog_post,
    add_post,
    add_user,
    comment,
    comment_blog,
    react,
    sequence,
    unread_state,
)
from pg_social_notifications.queries import sql

Conn = psycopg.Connection[Any]
CHANNEL = sql("listen_notifications").split()[-1]  # the service's own LISTEN


@pytest.fixture
def listener(database_url: str) -> Iterator[Conn]:
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute(sql("listen_notifications"))
        yield c


def received(conn: Conn, listener: Conn) -> list[str]:
    """Every payload announced so far, in order, and nothing later: a marker NOTIFY sent now
    arrives after all of them (PostgreSQL delivers notifications in commit order), so
    silence is proven without a waiting window."""
    marker = f"marker-{uuid.uuid4()}"
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, marker))
    payloads: list[str] = []
    for notify in listener.notifies(timeout=30):
        if notify.payload == marker:
            return payloads
        payloads.append(notify.payload)
    raise AssertionError("the marker NOTIFY never arrived")


def ids(payload: str) -> list[int]:
    return [int(part) for part in payload.split(",")]


def last_event(conn: Conn, user_id: int) -> tuple[int, str, int]:
    row = conn.execute("SELECT seq, kind, unread_count FROM notification_events"
                       " WHERE user_id = %s ORDER BY seq DESC LIMIT 1", (user_id,)).fetchone()
    assert row is not None
    return int(row[0]), str(row[1]), int(row[2])


def test_a_host_commit_alone_announces_nothing(conn: Conn, listener: Conn) -> None:
    """A committed host write sends no NOTIFY; the sequencer's batch that numbers it does."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    with conn.transaction():
        react(conn, post, actor)
        comment(conn, post, actor, "hi")
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (2,)  # committed
    assert received(conn, listener) == []
    assert sequence(conn) == 2  # two statements, two changes, one batch
    assert received(conn, listener) == [str(owner)]
    assert last_event(conn, owner) == (2, "created", 2)


def test_one_batch_announces_each_moved_user_once(conn: Conn, listener: Conn) -> None:
    """One sequencer batch over several host transactions for two users sends one NOTIFY naming each once."""
    u1, u2, actor = add_user(conn, "u1"), add_user(conn, "u2"), add_user(conn, "bob")
    p1, p2 = add_post(conn, u1), add_post(conn, u2)
    with conn.transaction():
        for _ in range(3):
            react(conn, p1, actor)
        react(conn, p2, actor)
    react(conn, p1, actor)  # another host transaction
    comment(conn, p2, actor, "hi")  # and another
    conn.execute("UPDATE notifications SET is_read = true WHERE user_id = %s", (u1,))
    assert received(conn, listener) == []
    assert sequence(conn) > 0
    payloads = received(conn, listener)
    assert len(payloads) == 1
    assert ids(payloads[0]) == sorted([u1, u2])
    assert sequence(conn) == 0  # nothing left: no second, empty announcement
    assert received(conn, listener) == []


def test_every_kind_of_change_is_announced(conn: Conn, listener: Conn) -> None:
    """Created, read, unread, updated (edit) and deleted (retraction) each wake the listener
    once sequenced."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    changes: list[tuple[str, Callable[[], object]]] = [
        ("created", lambda: react(conn, post, actor, "🔥")),
        ("read", lambda: conn.execute("UPDATE notifications SET is_read = true")),
        ("unread", lambda: conn.execute("UPDATE notifications SET is_read = false")),
        ("updated", lambda: conn.execute("UPDATE reactions SET emoji = '🎉'")),
        ("deleted", lambda: conn.execute("DELETE FROM reactions")),
    ]
    for position, (kind, change) in enumerate(changes, start=1):
        change()
        assert received(conn, listener) == [], kind  # the host's commit alone: silence
        sequence(conn)
        assert received(conn, listener) == [str(owner)], kind
        assert last_event(conn, owner)[:2] == (position, kind)
    assert unread_state(conn, owner) == (0, 0)


def test_rolled_back_transaction_changes_and_announces_nothing(conn: Conn, listener: Conn,
                                                               database_url: str) -> None:
    """A rolled-back host write leaves no row, no pending change or request, and no NOTIFY
    after sequencing."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    kept = react(conn, post, actor)
    sequence(conn)
    assert received(conn, listener) == [str(owner)]
    with psycopg.connect(database_url) as writer:
        react(writer, post, actor)
        comment(writer, post, actor, "never")
        writer.execute("DELETE FROM reactions WHERE id = %s", (kept,))  # a retraction request
        writer.execute("UPDATE notifications SET is_read = true")
        writer.rollback()
    assert conn.execute("SELECT count(*) FROM notification_changes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM notification_requests").fetchone() == (0,)
    assert sequence(conn) == 0
    assert received(conn, listener) == []
    assert conn.execute("SELECT reaction_id, is_read FROM notifications").fetchall() == [(kept, False)]
    assert last_event(conn, owner) == (1, "created", 1)


def test_payload_stays_tiny_whatever_the_data(conn: Conn, listener: Conn) -> None:
    """A maximal title and a 1 MB comment announce only the recipient's id."""
    owner, actor = add_user(conn, "o" * 50), add_user(conn, "b" * 50)
    blog = add_blog_post(conn, owner, title="T" * 200)
    comment_blog(conn, blog, actor, "€" * 1_000_000)
    sequence(conn)
    payloads = received(conn, listener)
    assert payloads == [str(owner)]
    assert all(len(p.encode()) <= 12 for p in payloads)  # an int's digits, far under 8000 bytes


def test_payload_of_a_big_batch_is_chunked_under_the_notify_limit(conn: Conn, listener: Conn) -> None:
    """A batch moving 1,200 users' streams names each once, 500 ids at most per NOTIFY, each
    under 8000 bytes."""
    actor = add_user(conn, "bob")
    owners = [int(r[0]) for r in conn.execute(
        "INSERT INTO users (handle) SELECT 'owner' || g FROM generate_series(1, 1200) AS g"
        " RETURNING id")]
    conn.execute("INSERT INTO posts (owner_id, title) SELECT id, 'p' FROM users WHERE id = ANY(%s)",
                 (owners,))
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji) SELECT id, %s, 'x' FROM posts",
                 (actor,))
    sequence(conn)
    payloads = received(conn, listener)
    assert len(payloads) == 3
    announced = [u for p in payloads for u in ids(p)]
    assert sorted(announced) == sorted(owners) and len(set(announced)) == len(announced)
    assert all(len(ids(p)) <= 500 and len(p.encode()) < 8000 for p in payloads)


def test_announce_switch_silences_notify_but_keeps_rows_exact(conn: Conn, listener: Conn) -> None:
    """With announce = false the sequencer sends nothing, yet rows, counters and events are exact."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("UPDATE notification_settings SET announce = false")
    react(conn, post, actor)
    react(conn, post, actor)
    conn.execute("UPDATE notifications SET is_read = true WHERE seq = (SELECT min(seq) FROM notifications)")
    assert sequence(conn) > 0
    assert received(conn, listener) == []
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (2,)
    assert conn.execute("SELECT unread_count, last_seq FROM notification_counters"
                        " WHERE user_id = %s", (owner,)).fetchone() == (1, 3)
    assert conn.execute("SELECT array_agg(kind ORDER BY seq) FROM notification_events"
                        " WHERE user_id = %s", (owner,)).fetchone() == (["created", "created", "read"],)
    assert unread_state(conn, owner) == (1, 1)
