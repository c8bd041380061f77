"""Retention: old notifications and replay events go in batches; counters stay exact."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg

from service.consistency import find_drift
from service.retention import RETENTION_LOCK_KEY, run_cleanup
from tests.hostdata import add_post, add_user, react, unread_state

Conn = psycopg.Connection[Any]


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
    conn.execute("UPDATE notification_events SET created_at = now() - interval '8 days'"
                 " WHERE seq <= 2")
    result = run_cleanup(conn.info.dsn, retention_days=90, event_retention_days=7, batch_size=10)
    assert result.events == 2
    assert conn.execute("SELECT array_agg(seq ORDER BY seq) FROM notification_events"
                        ).fetchone() == ([3, 4],)
    assert find_drift(conn.info.dsn) == []


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
    age_notifications(conn, 31, "old")
    env = {**os.environ, "DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "service.cli", "cleanup", "--days", "30"],
                         env=env, capture_output=True, text=True, check=True).stdout
    assert "deleted 1 notifications older than 30 days" in out
    check = subprocess.run([sys.executable, "-m", "service.cli", "check"], env=env,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no drift" in check.stdout
    # Corrupt a counter behind the triggers' back: check must notice and fail.
    conn.execute("UPDATE notification_counters SET unread_count = unread_count + 5")
    check = subprocess.run([sys.executable, "-m", "service.cli", "check"], env=env,
                           capture_output=True, text=True)
    assert check.returncode == 1
    assert f"user {owner}: unread counter 6 but 1 unread rows" in check.stdout
