"""Retention: delete old notifications and replay events in small batches.

Each batch is its own short transaction that skips rows somebody else has
locked, so retention never holds long locks and never blocks the host. The
counters stay exact because the delete goes through the same statement
trigger as every other delete. A session-level advisory lock makes sure only
one instance (CLI or service) runs it at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg

# An arbitrary constant shared by every instance: "notifications retention".
RETENTION_LOCK_KEY = 0x6E6F7469_66726574

TRY_RETENTION_LOCK = "SELECT pg_try_advisory_lock(%(key)s)"
RELEASE_RETENTION_LOCK = "SELECT pg_advisory_unlock(%(key)s)"

DELETE_EXPIRED_NOTIFICATIONS_BATCH = """
WITH doomed AS (
    SELECT id FROM notifications
     WHERE created_at < now() - %(age)s
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
)
DELETE FROM notifications AS n USING doomed WHERE n.id = doomed.id
"""

DELETE_EXPIRED_EVENTS_BATCH = """
DELETE FROM notification_events
 WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM notification_events
     WHERE created_at < now() - %(age)s
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED))
"""


# Hourly rate-limit buckets are only read for the current hour.
DELETE_PAST_RATE_LIMIT_HOURS = """
DELETE FROM notification_rate_limits WHERE hour < date_trunc('hour', now()) - interval '1 hour'
"""


@dataclass(frozen=True)
class CleanupResult:
    notifications: int = 0
    events: int = 0
    batches: int = 0
    skipped: bool = False  # another instance holds the retention lock


def _delete_in_batches(conn: psycopg.Connection[tuple[object, ...]], query: str,
                       age: timedelta, batch_size: int) -> tuple[int, int]:
    total = batches = 0
    while True:
        with conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '5s'")
            deleted = conn.execute(query, {"age": age, "batch": batch_size}).rowcount
        total += deleted
        batches += 1
        if deleted < batch_size:
            return total, batches


def run_cleanup(database_url: str, *, retention_days: int, event_retention_days: int,
                batch_size: int = 5000) -> CleanupResult:
    """Delete notifications older than `retention_days`, and replay events
    older than `event_retention_days`, unless another instance is at it."""
    if retention_days < 1 or event_retention_days < 1 or batch_size < 1:
        raise ValueError("retention days and batch size must be positive")
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(TRY_RETENTION_LOCK, {"key": RETENTION_LOCK_KEY}).fetchone()
        if not row or not row[0]:
            return CleanupResult(skipped=True)
        try:
            notes, note_batches = _delete_in_batches(
                conn, DELETE_EXPIRED_NOTIFICATIONS_BATCH, timedelta(days=retention_days),
                batch_size)
            events, event_batches = _delete_in_batches(
                conn, DELETE_EXPIRED_EVENTS_BATCH, timedelta(days=event_retention_days),
                batch_size)
            conn.execute(DELETE_PAST_RATE_LIMIT_HOURS)
        finally:
            conn.execute(RELEASE_RETENTION_LOCK, {"key": RETENTION_LOCK_KEY})
    return CleanupResult(notes, events, note_batches + event_batches)
