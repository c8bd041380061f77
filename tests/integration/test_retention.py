"""Retention: old notifications and replay events go in batches; counters stay exact.

Replay events are trimmed per user as a prefix by position (core v2), so the
log left always runs contiguously to the stream head.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import psycopg
import pytest

from devkit.hostdata import add_post, add_user, react, sequence, unread_state
from pg_social_notifications.consistency import find_drift
from pg_social_notifications.retention import RETENTION_LOCK_KEY, run_cleanup

Conn = psycopg.Connection[Any]


def positions(conn: Conn, user_id: int) -> list[int]:
    """The positions left in the user's replay log."""
    return [int(r[0]) for r in conn.execute(
        "SELECT seq FROM notification_events WHERE user_id = %s ORDER BY seq", (user_id,))]


def age_notifications(conn: Conn, days: int, emoji: str) -> None:
    conn.execute("UPDATE notifications SET created_at = now() - make_interval(days => %s)"
                 " WHERE emoji = %s", (days, emoji))


def test_cleanup_deletes_only_expired_rows_in_batches_and_keeps_counters(conn: Conn) -> None:
    """Rows older than the retention window go, in several batches; unread counts follow."""
    owner, other, actor = add_user(conn, "owner"), add_user(conn, "other"), add_user(conn, "bob")
    p1, p2 = add_post(conn, owner), add_post(conn, other)
    for _ in range(5):
        react(conn, p1, actor, "old")
        react(conn, p2, actor, "old")
        react(conn, p1, actor, "new")
    conn.execute("UPDATE notifications SET is_read = true WHERE user_id = %s AND emoji = 'old'"
                 " AND seq %% 2 = 0", (owner,))
    age_notifications(conn, 91, "old")
    age_notifications(conn, 89, "new")
    result = run_cleanup(conn.info.dsn, retention_days=90, event_retention_days=7, batch_size=3)
    assert result.notifications == 10
    assert result.batches >= 4 + 1  # ceil(10/3) full-or-partial batches, plus the events pass
    assert not result.skipped
    assert conn.execute("SELECT DISTINCT emoji FROM notifications").fetchall() == [("new",)]
    assert unread_state(conn, owner) == (5, 5)
    assert unread_state(conn, other) == (0, 0)
    assert find_drift(conn.info.dsn) == []


def test_cleanup_trims_old_replay_events_only(conn: Conn) -> None:
    """Replay events older than their window are deleted; newer ones stay contiguous."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    for _ in range(4):
        react(conn, post, actor)
    sequence(conn)  # events are written by the sequencer
    assert positions(conn, owner) == [1, 2, 3, 4]
    conn.execute("UPDATE notification_events SET created_at = now() - interval '8 days'"
                 " WHERE seq <= 2")
    result = run_cleanup(conn.info.dsn, retention_days=90, event_retention_days=7, batch_size=10)
    assert result.events == 2
    assert positions(conn, owner) == [3, 4]
    assert find_drift(conn.info.dsn) == []


def test_event_trim_is_a_prefix_by_position_so_overlapping_commits_leave_no_hole(
        conn: Conn, database_url: str) -> None:
    """When a long-open transaction commits after a later one and the old/new event times interleave,
    retention still deletes only a prefix of each user's log: no hole below the head."""
    owner, other, actor = add_user(conn, "owner"), add_user(conn, "other"), add_user(conn, "bob")
    post, other_post = add_post(conn, owner), add_post(conn, other)
    for _ in range(2):
        react(conn, post, actor)  # positions 1, 2
        react(conn, other_post, actor)
        sequence(conn)
    with psycopg.connect(database_url) as a, psycopg.connect(database_url) as b:
        a_reaction = react(a, post, actor, "A")  # A started long ago ...
        react(b, post, actor, "B")
        b.commit()  # ... B commits first: position 3
        sequence(conn)
        a.commit()  # A: position 4
    sequence(conn)
    react(conn, post, actor)  # position 5
    react(conn, other_post, actor)
    sequence(conn)
    assert positions(conn, owner) == [1, 2, 3, 4, 5]
    a_position = conn.execute(
        "SELECT e.seq FROM notification_events e JOIN notifications n ON n.id = ANY(e.notification_ids)"
        " WHERE n.reaction_id = %s", (a_reaction,)).fetchone()
    assert a_position == (4,)
    # Positions 1, 2 and A's 4 look old; B's 3 and the head 5 look recent. A delete by
    # clock alone would keep 3 and 5 and leave a hole at 4.
    conn.execute("UPDATE notification_events SET created_at = now() - interval '8 days'"
                 " WHERE (user_id = %s AND seq IN (1, 2, 4)) OR (user_id = %s AND seq <= 2)",
                 (owner, other))
    recent = conn.execute("SELECT array_agg(seq ORDER BY seq) FROM notification_events"
                          " WHERE user_id = %s AND created_at >= now() - interval '7 days'",
                          (owner,)).fetchone()
    assert recent == ([3, 5],)  # what a clock-based delete would keep: not contiguous
    result = run_cleanup(database_url, retention_days=90, event_retention_days=7, batch_size=1)
    assert result.events == 4 + 2
    assert positions(conn, owner) == [5]
    assert positions(conn, other) == [3]
    assert find_drift(database_url) == []


def test_cleanup_finishes_while_a_host_transaction_is_held_open(conn: Conn, database_url: str) -> None:
    """A host transaction that inserted a reaction and stays open neither blocks retention nor
    makes it leave expired rows behind."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    for _ in range(6):
        react(conn, post, actor, "old")
    react(conn, post, actor, "new")
    sequence(conn)
    age_notifications(conn, 100, "old")
    conn.execute("UPDATE notification_events SET created_at = now() - interval '30 days'"
                 " WHERE user_id = %s AND seq <= 6", (owner,))
    with psycopg.connect(database_url) as slow:
        react(slow, post, actor, "open")  # ... and stays open through the cleanup
        started = time.perf_counter()
        result = run_cleanup(database_url, retention_days=90, event_retention_days=7, batch_size=2)
        elapsed = time.perf_counter() - started
        assert elapsed < 2.0, elapsed  # a single lock_timeout is 1 s: it never waited on one
        assert (result.notifications, result.events, result.retries) == (6, 6, 0)
        assert conn.execute("SELECT count(*) FROM notifications"
                            " WHERE created_at < now() - interval '90 days'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM notification_events"
                            " WHERE created_at < now() - interval '7 days'").fetchone() == (0,)
        slow.commit()
    assert conn.execute("SELECT array_agg(emoji ORDER BY seq) FROM notifications").fetchone() == (
        ["new", "open"],)
    assert unread_state(conn, owner) == (2, 2)
    assert find_drift(database_url) == []



def test_a_purged_users_stream_waits_for_its_pending_retractions(conn: Conn,
                                                                database_url: str) -> None:
    """The purge's retractions are still requests when retention runs: the stream stays until
    they are applied (dropped before, the sequencer restarted it at 0 and folded the
    deletions into a badge of -1); once nothing is left, the next run drops it."""
    owner, actor = add_user(conn, "purged"), add_user(conn, "actor")
    post = add_post(conn, owner)
    react(conn, post, actor)
    sequence(conn)
    assert unread_state(conn, owner) == (1, 1)
    conn.execute("DELETE FROM users WHERE id = %s", (owner,))  # cascades: a retract request
    assert conn.execute("SELECT count(*) FROM notification_requests").fetchone() == (1,)
    run_cleanup(database_url, retention_days=90, event_retention_days=7, batch_size=100)
    assert conn.execute("SELECT count(*) FROM notification_counters WHERE user_id = %s",
                        (owner,)).fetchone() == (1,)  # kept: a retraction will move it
    sequence(conn)
    assert find_drift(database_url) == []
    assert conn.execute("SELECT unread_count FROM notification_counters WHERE user_id = %s",
                        (owner,)).fetchone() == (0,)
    run_cleanup(database_url, retention_days=90, event_retention_days=7, batch_size=100)
    assert conn.execute("SELECT count(*) FROM notification_counters WHERE user_id = %s",
                        (owner,)).fetchone() == (0,)
    assert find_drift(database_url) == []

def test_only_one_instance_runs_retention_at_a_time(conn: Conn, database_url: str) -> None:
    """While another session holds the retention lock, cleanup skips and deletes nothing."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    react(conn, add_post(conn, owner), actor, "old")
    age_notifications(conn, 100, "old")
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK_KEY,))
        result = run_cleanup(database_url, retention_days=90, event_retention_days=7)
        assert result.skipped
        assert conn.execute("SELECT count(*) FROM notifications").fetchone() == (1,)
    assert run_cleanup(database_url, retention_days=90, event_retention_days=7).notifications == 1


def test_cli_cleanup_and_check(conn: Conn, database_url: str) -> None:
    """`notifications cleanup --days N` deletes, and `notifications check` reports exactness."""
    owner, actor = add_user(conn, "owner"), add_user(conn, "bob")
    post = add_post(conn, owner)
    react(conn, post, actor, "old")
    react(conn, post, actor, "new")
    sequence(conn)  # the sequencer starts the owner's counter row
    age_notifications(conn, 31, "old")
    env = {**os.environ, "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "cleanup", "--days", "30"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert "deleted 1 notifications older than 30 days" in out
    check = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "check"], env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no drift" in check.stdout
    # Corrupt a counter behind the triggers' back: check must notice and fail.
    conn.execute("UPDATE notification_counters SET unread_count = unread_count + 5")
    check = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "check"], env=env,
                           capture_output=True, text=True)
    assert check.returncode == 1
    assert f"user {owner}: unread counter 6 but 1 unread rows" in check.stdout


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_cli_cleanup_refuses_a_bad_days_without_a_traceback(database_url: str, days: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    run = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "cleanup", "--days", days],
                         env=env, capture_output=True, text=True)
    assert run.returncode == 2, run.stdout + run.stderr  # a usage error
    assert "--days" in run.stderr and "Traceback" not in run.stderr


def test_cli_cleanup_says_so_when_another_instance_holds_the_lock(
        conn: Conn, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK_KEY,))
        run = subprocess.run([sys.executable, "-m", "pg_social_notifications.cli", "cleanup", "--days", "30"],
                             env=env, capture_output=True, text=True)
    assert run.returncode == 75, run.stdout + run.stderr  # EX_TEMPFAIL: try again later
    assert "another instance holds the retention lock" in run.stderr
    assert "deleted" not in run.stdout
