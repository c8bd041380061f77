"""The unread counter stays exact and the stream position is gap-free, under concurrency too.

Positions are given by the sequencer after the host's commit (core v2): they
live in notification_events.seq and notification_counters.last_seq, while
notifications.seq is only a global insertion-order key for the list.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import psycopg

from devkit.hostdata import add_post, add_user, react, sequence, unread_state
from pg_social_notifications.consistency import find_drift
from pg_social_notifications.queries import sql

Conn = psycopg.Connection[Any]


def events(conn: Conn, user_id: int) -> list[tuple[int, str, int, int]]:
    """(position, kind, how many notifications, unread count at that position) of the user's log."""
    return [(int(seq), str(kind), int(n), int(unread)) for seq, kind, n, unread in conn.execute(
        "SELECT seq, kind, cardinality(notification_ids), unread_count FROM notification_events"
        " WHERE user_id = %s ORDER BY seq", (user_id,))]


def head(conn: Conn, user_id: int) -> tuple[int, int] | None:
    """(unread_count, last_seq) of the user's counter row."""
    row = conn.execute("SELECT unread_count, last_seq FROM notification_counters WHERE user_id = %s",
                       (user_id,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def created_position(conn: Conn, reaction_id: int) -> int:
    """The stream position of the 'created' event that lists this reaction's notification."""
    row = conn.execute(
        "SELECT e.seq FROM notifications n JOIN notification_events e"
        " ON e.user_id = n.user_id AND e.kind = 'created' AND n.id = ANY(e.notification_ids)"
        " WHERE n.reaction_id = %s", (reaction_id,)).fetchone()
    assert row is not None
    return int(row[0])


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
    """The counter counts past any small cap and no change drives it below zero; a corrupted one is reported.

    Core v2 dropped the CHECK (unread_count >= 0) on purpose (a failed CHECK would stop
    the sequencer for every stream), so a value forced by hand is caught by
    `find_drift` (`notifications check`) instead of being refused.
    """
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    conn.execute("UPDATE notification_settings SET max_per_actor_per_hour = NULL")  # not under test
    conn.execute(
        "INSERT INTO reactions (post_id, user_id, emoji) SELECT %s, %s, 'x' FROM generate_series(1, 1500)",
        (post, actor),
    )
    assert unread_state(conn, owner) == (1500, 1500)
    conn.execute("UPDATE notifications SET is_read = true")
    conn.execute("UPDATE notifications SET is_read = true")  # reading twice moves nothing
    conn.execute("DELETE FROM reactions")  # read rows retracted: no unread to take away
    assert unread_state(conn, owner) == (0, 0)
    assert min(unread for *_, unread in events(conn, owner)) == 0
    assert find_drift(conn.info.dsn) == []
    conn.execute("UPDATE notification_counters SET unread_count = -1 WHERE user_id = %s", (owner,))
    assert find_drift(conn.info.dsn) == [f"user {owner}: unread counter -1 but 0 unread rows"]



def test_check_reports_rows_of_the_wrong_shape(conn: Conn) -> None:
    """0004 dropped the CHECKs on notifications (their parse cost every host statement), so a
    malformed row written by hand is caught by `notifications check` instead; well-formed
    rows from every trigger path are never reported."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    react(conn, post, actor)  # one-row path
    conn.execute("INSERT INTO reactions (post_id, user_id, emoji) SELECT %s, %s, 'x'"
                 " FROM generate_series(1, 3)", (post, actor))  # the set-based path
    conn.execute("INSERT INTO comments (id, post_id, author_id, body)"
                 " VALUES (gen_random_uuid(), %s, %s, 'hi')", (post, actor))
    sequence(conn)
    assert find_drift(conn.info.dsn) == []
    bad = [
        # a comment without its comment id
        ("comment", post, None, None),
        # both content ids
        ("reaction", post, post, 999_001),
        # an unknown kind
        ("like", post, None, 999_002),
    ]
    ids = []
    for kind, post_id, blog_post_id, reaction_id in bad:
        row = conn.execute(
            "INSERT INTO notifications (user_id, notification_type, post_id, blog_post_id,"
            " reaction_id, actor_handle, content_title) VALUES (%s, %s, %s, %s, %s, 'x', 't')"
            " RETURNING id", (owner, kind, post_id, blog_post_id, reaction_id)).fetchone()
        assert row is not None
        ids.append(str(row[0]))
    sequence(conn)
    problems = find_drift(conn.info.dsn)
    assert sorted(problems) == sorted(
        f"user {owner}: notification {i} ({kind}) is malformed: it needs a known kind, exactly"
        " one content id and its kind's source id" for i, (kind, *_) in zip(ids, bad, strict=True))


def test_positions_are_gap_free_and_events_match(conn: Conn) -> None:
    """Every change takes the next position of its user's stream; each notification's 'created'
    event lists it."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    r1 = react(conn, post, actor)
    assert events(conn, owner) == []  # nothing has a position before the sequencer runs
    sequence(conn)
    r2 = react(conn, post, actor)
    sequence(conn)
    conn.execute("UPDATE notifications SET is_read = true")
    sequence(conn)
    # An un-react is a request: its 'deleted' change is written, and numbered, when
    # the sequencer applies it (the service runs it every few milliseconds).
    conn.execute("DELETE FROM reactions WHERE id = %s", (r1,))
    sequence(conn)
    r3 = react(conn, post, actor)
    sequence(conn)
    assert events(conn, owner) == [(1, "created", 1, 1), (2, "created", 1, 2), (3, "read", 2, 0),
                                   (4, "deleted", 1, 0), (5, "created", 1, 1)]
    assert [created_position(conn, r) for r in (r2, r3)] == [2, 5]
    assert head(conn, owner) == (1, 5)
    # The list order key follows insertion order; it is not the stream position.
    order = conn.execute("SELECT reaction_id FROM notifications WHERE user_id = %s ORDER BY seq",
                         (owner,)).fetchall()
    assert order == [(r2,), (r3,)]


def test_rolled_back_transaction_consumes_no_position(conn: Conn, database_url: str) -> None:
    """A rollback leaves no row, no pending change, no event and no hole in the stream."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    react(conn, post, actor)
    with psycopg.connect(database_url) as other:
        react(other, post, actor)
        other.execute("UPDATE notifications SET is_read = true")
        other.rollback()
    react(conn, post, actor)
    sequence(conn)
    assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM notification_changes").fetchone() == (0,)
    assert events(conn, owner) == [(1, "created", 1, 1), (2, "created", 1, 2)]
    assert head(conn, owner) == (2, 2)
    assert unread_state(conn, owner) == (2, 2)


def test_positions_follow_commit_order_of_overlapping_transactions(conn: Conn, database_url: str) -> None:
    """A transaction that wrote first but commits last gets the later position; the log stays contiguous.

    Core v2: the second writer no longer waits for the first (there is no shared
    counter row in the host's transaction); positions are given in the order the
    sequencer sees commits.
    """
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    earlier = react(conn, post, actor, "0")
    sequence(conn)
    with psycopg.connect(database_url) as a, psycopg.connect(database_url) as b:
        a_reaction = react(a, post, actor, "A")  # A starts and writes for the owner ...
        b_reaction = react(b, post, actor, "B")  # ... B writes for the same owner, without waiting,
        b.commit()  # ... and commits first
        sequence(conn)
        assert head(conn, owner) == (2, 2)
        a.commit()
    sequence(conn)
    assert [created_position(conn, r) for r in (earlier, b_reaction, a_reaction)] == [1, 2, 3]
    assert events(conn, owner) == [(1, "created", 1, 1), (2, "created", 1, 2), (3, "created", 1, 3)]
    assert head(conn, owner) == (3, 3)
    assert find_drift(database_url) == []


def test_32_concurrent_writers_keep_the_counter_exact_without_deadlock(
    conn: Conn, database_url: str
) -> None:
    """32 connections reacting to many owners' posts in different orders per transaction, un-reacting
    and marking read, with the sequencer running alongside, end with no error and exact counters."""
    owners = [add_user(conn, f"owner{i}") for i in range(8)]
    actors = [add_user(conn, f"actor{i}") for i in range(32)]
    posts = [add_post(conn, owner, title=f"p{i}") for owner in owners for i in range(2)]
    errors: list[BaseException] = []
    start = threading.Barrier(32 + 1)
    writers_done = threading.Event()

    def writer(index: int) -> None:
        rng = random.Random(index)
        try:
            with psycopg.connect(database_url, autocommit=True) as c:
                start.wait()
                mine: list[int] = []
                for step in range(25):
                    roll = rng.random()
                    if roll < 0.6 or not mine:
                        # One transaction reacting to several owners' posts, in this
                        # writer's own random order: opposite orders across writers.
                        with c.transaction():
                            for post in rng.sample(posts, rng.randint(2, 6)):
                                mine.append(react(c, post, actors[index], str(step)))
                    elif roll < 0.8:
                        with c.transaction():  # un-react two, in random order
                            for _ in range(min(2, len(mine))):
                                gone = mine.pop(rng.randrange(len(mine)))
                                c.execute("DELETE FROM reactions WHERE id = %s", (gone,))
                    else:  # the owner marks everything read, as the API does
                        c.execute(sql("mark_all_read"), {"user_id": rng.choice(owners),
                                                         "up_to": None})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def sequencer() -> None:
        try:
            with psycopg.connect(database_url, autocommit=True) as c:
                start.wait()
                while not writers_done.is_set():
                    sequence(c)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(32)]
    running_sequencer = threading.Thread(target=sequencer)
    running_sequencer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    writers_done.set()
    running_sequencer.join(30)
    assert not any(t.is_alive() for t in [*threads, running_sequencer])
    assert errors == []
    for owner in owners:
        counter, actual = unread_state(conn, owner)
        assert counter == actual
        last_seq = head(conn, owner)
        assert last_seq is not None
        assert [e[0] for e in events(conn, owner)] == list(range(1, last_seq[1] + 1))
    assert sum(unread_state(conn, owner)[1] for owner in owners) > 0
    assert find_drift(database_url) == []


def test_an_unreact_takes_its_place_before_a_later_reaction_in_the_same_batch(conn: Conn) -> None:
    """Un-react, then a new reaction, both committed before the sequencer runs: the
    retraction (applied by the sequencer) is numbered where the host made it, first."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    old = react(conn, post, actor, "a")
    sequence(conn)
    conn.execute("DELETE FROM reactions WHERE id = %s", (old,))
    react(conn, post, actor, "b")
    sequence(conn)
    assert [(kind, unread) for _, kind, _, unread in events(conn, owner)][1:] == [
        ("deleted", 0), ("created", 1)]
