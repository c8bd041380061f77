"""The unread counter stays exact and the stream position is gap-free, under concurrency too."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import psycopg

from service.consistency import find_drift
from tests.hostdata import add_post, add_user, react, unread_state

Conn = psycopg.Connection[Any]


def test_counter_follows_every_kind_of_change(conn: Conn) -> None:
    """Inserts, reads, unreads, deletes and direct SQL all keep counter == unread rows."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    reactions = [react(conn, post, actor, e) for e in "abcdef"]
    assert unread_state(conn, owner) == (6, 6)
    conn.execute("UPDATE notifications SET is_read = true WHERE reaction_id = ANY(%s)",
                 (reactions[:3],))
    assert unread_state(conn, owner) == (3, 3)
    conn.execute("UPDATE notifications SET is_read = true")  # includes already-read rows
    assert unread_state(conn, owner) == (0, 0)
    conn.execute("UPDATE notifications SET is_read = false WHERE reaction_id = %s", (reactions[0],))
    assert unread_state(conn, owner) == (1, 1)
    conn.execute("DELETE FROM reactions WHERE id = ANY(%s)", (reactions[:2],))  # 1 unread, 1 read
    assert unread_state(conn, owner) == (0, 0)
    conn.execute(
        "INSERT INTO notifications (user_id, notification_type, post_id, reaction_id,"
        " actor_handle, content_title, is_read) VALUES (%s, 'reaction', %s, 999, 'x', 't', true)",
        (owner, post),
    )
    assert unread_state(conn, owner) == (0, 0)
    assert find_drift(conn.info.dsn) == []


def test_counter_is_never_negative_and_has_no_cap(conn: Conn) -> None:
    """The counter counts past any small cap, and a CHECK forbids a negative value."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")  # not under test
    conn.execute(
        "INSERT INTO reactions (post_id, user_id, emoji) SELECT %s, %s, 'x' FROM generate_series(1, 1500)",
        (post, actor),
    )
    assert unread_state(conn, owner) == (1500, 1500)
    try:
        conn.execute("UPDATE notification_counters SET unread_count = -1 WHERE user_id = %s", (owner,))
    except psycopg.errors.CheckViolation:
        pass
    else:
        raise AssertionError("a negative counter was accepted")


def test_positions_are_gap_free_and_events_match(conn: Conn) -> None:
    """Every change takes the next position; notification seq equals its 'created' event."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    r1 = react(conn, post, actor)
    react(conn, post, actor)
    conn.execute("UPDATE notifications SET is_read = true")
    conn.execute("DELETE FROM reactions WHERE id = %s", (r1,))
    react(conn, post, actor)
    events = conn.execute(
        "SELECT seq, kind, cardinality(notification_ids), unread_count FROM notification_events"
        " WHERE user_id = %s ORDER BY seq", (owner,)).fetchall()
    assert events == [(1, "created", 1, 1), (2, "created", 1, 2), (3, "read", 2, 0),
                      (4, "deleted", 1, 0), (5, "created", 1, 1)]
    seqs = conn.execute(
        "SELECT n.seq, e.kind FROM notifications n JOIN notification_events e"
        " ON e.user_id = n.user_id AND e.seq = n.seq ORDER BY n.seq").fetchall()
    assert seqs == [(2, "created"), (5, "created")]
    assert conn.execute("SELECT last_seq FROM notification_counters WHERE user_id = %s",
                        (owner,)).fetchone() == (5,)


def test_rolled_back_transaction_consumes_no_position(conn: Conn, database_url: str) -> None:
    """A rollback leaves no row, no event and no hole in the stream."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    react(conn, post, actor)
    with psycopg.connect(database_url) as other:
        react(other, post, actor)
        other.rollback()
    react(conn, post, actor)
    assert conn.execute("SELECT array_agg(seq ORDER BY seq) FROM notifications").fetchone() == ([1, 2],)
    assert unread_state(conn, owner) == (2, 2)


def test_positions_follow_commit_order(conn: Conn, database_url: str) -> None:
    """A second writer for the same user waits for the first and takes the next position."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    first = psycopg.connect(database_url)
    react(first, post, actor, "1")  # open transaction holds the counter row
    result: list[int] = []

    def second_writer() -> None:
        with psycopg.connect(database_url, autocommit=True) as second:
            react(second, post, actor, "2")
            row = second.execute("SELECT seq FROM notifications WHERE emoji = '2'").fetchone()
            assert row is not None
            result.append(int(row[0]))

    thread = threading.Thread(target=second_writer)
    thread.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        waiting = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()").fetchone()
        if waiting == (1,):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the second writer never waited for the first")
    first.commit()
    first.close()
    thread.join(10)
    assert result == [2]
    assert conn.execute("SELECT seq FROM notifications WHERE emoji = '1'").fetchone() == (1,)


def test_32_concurrent_writers_keep_the_counter_exact_without_deadlock(
    conn: Conn, database_url: str
) -> None:
    """32 connections reacting, un-reacting and marking read on one user's posts end exact."""
    owner = add_user(conn, "owner")
    actors = [add_user(conn, f"actor{i}") for i in range(32)]
    posts = [add_post(conn, owner, title=f"p{i}") for i in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(32)

    def writer(index: int) -> None:
        rng = random.Random(index)
        try:
            with psycopg.connect(database_url, autocommit=True) as c:
                start.wait()
                mine: list[int] = []
                for step in range(25):
                    roll = rng.random()
                    if roll < 0.6 or not mine:
                        with c.transaction():  # several reactions in one transaction
                            for _ in range(rng.randint(1, 3)):
                                mine.append(react(c, rng.choice(posts), actors[index], str(step)))
                    elif roll < 0.8:
                        c.execute("DELETE FROM reactions WHERE id = %s", (mine.pop(),))
                    else:
                        c.execute("UPDATE notifications SET is_read = true, read_at = now()"
                                  " WHERE user_id = %s AND actor_id = %s AND NOT is_read",
                                  (owner, actors[index]))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    counter, actual = unread_state(conn, owner)
    assert counter == actual
    assert actual > 0
    assert find_drift(database_url) == []
