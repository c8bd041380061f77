"""pg_notify announcements: once per recipient per transaction, only on commit, always tiny."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.hostdata import add_blog_post, add_post, add_user, comment, comment_blog, react

Conn = psycopg.Connection[Any]
CHANNEL = "notifications_v1"


@pytest.fixture
def listener(database_url: str) -> Iterator[Conn]:
    with psycopg.connect(database_url, autocommit=True) as c:
        c.execute(f"LISTEN {CHANNEL}")
        yield c


def received(listener: Conn, timeout: float = 0.5) -> list[str]:
    return [n.payload for n in listener.notifies(timeout=timeout) if n.channel == CHANNEL]


def test_one_announcement_per_recipient_per_transaction(conn: Conn, listener: Conn) -> None:
    """Five notifications for two users in one transaction announce each user once."""
    u1, u2, actor = add_user(conn, "u1"), add_user(conn, "u2"), add_user(conn, "bob")
    p1, p2 = add_post(conn, u1), add_post(conn, u2)
    received(listener, 0.2)
    with conn.transaction():
        for _ in range(3):
            react(conn, p1, actor)
        react(conn, p2, actor)
        comment(conn, p2, actor, "hi")
    assert sorted(received(listener)) == sorted([str(u1), str(u2)])


def test_every_kind_of_change_is_announced(conn: Conn, listener: Conn) -> None:
    """New, read, edited and retracted notifications each wake the listener."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    reaction = react(conn, add_post(conn, owner), actor)
    assert received(listener) == [str(owner)]
    conn.execute("UPDATE notifications SET is_read = true")
    assert received(listener) == [str(owner)]
    conn.execute("UPDATE reactions SET emoji = '🎉' WHERE id = %s", (reaction,))
    assert received(listener) == [str(owner)]
    conn.execute("DELETE FROM reactions WHERE id = %s", (reaction,))
    assert received(listener) == [str(owner)]


def test_rolled_back_transaction_announces_nothing(conn: Conn, listener: Conn,
                                                   database_url: str) -> None:
    """A rolled-back host write leaves no row and sends no NOTIFY."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    received(listener, 0.2)
    with psycopg.connect(database_url) as writer:
        react(writer, post, actor)
        comment(writer, post, actor, "never")
        writer.rollback()
    assert received(listener, 1.0) == []
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (0,)


def test_payload_stays_tiny_whatever_the_data(conn: Conn, listener: Conn) -> None:
    """A maximal title and a 1 MB comment still announce only the recipient's id."""
    owner, actor = add_user(conn, "o" * 50), add_user(conn, "b" * 50)
    blog = add_blog_post(conn, owner, title="T" * 200)
    received(listener, 0.2)
    comment_blog(conn, blog, actor, "€" * 1_000_000)
    payloads = received(listener)
    assert payloads == [str(owner)]
    assert all(len(p.encode()) <= 12 for p in payloads)  # an int's digits, far under 8000 bytes


def test_announce_switch_silences_notify_but_keeps_rows_exact(conn: Conn, listener: Conn) -> None:
    """With announce = false rows and counters are written but nothing is announced."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("UPDATE notification_settings SET announce = false")
    received(listener, 0.2)
    react(conn, post, actor)
    assert received(listener) == []
    assert conn.execute("SELECT unread_count FROM notification_counters").fetchone() == (1,)
