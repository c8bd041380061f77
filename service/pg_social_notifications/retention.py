"""Retention: delete old notifications, old replay events and purged users' streams.

Every batch is its own short transaction with a `lock_timeout`, so retention
never holds long locks and never makes the host wait. A batch that meets a
lock (a DBA's long transaction, a migration) is retried with backoff until
the work is done: retention never gives up with expired rows left behind.
The counters stay exact because deletes append their changes like every
other writer's. A session-level advisory lock makes sure only one instance
(CLI or service) runs it at a time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from pg_social_notifications.queries import sql

log = logging.getLogger(__name__)

# An arbitrary constant shared by every instance: "notifications retention".
RETENTION_LOCK_KEY = 0x6E6F7469_66726574
MAX_BACKOFF = 5.0


@dataclass(frozen=True)
class CleanupResult:
    notifications: int = 0
    events: int = 0
    batches: int = 0
    retries: int = 0
    skipped: bool = False  # another instance holds the retention lock


class _Batches:
    """Runs one named query in short transactions until a batch comes back short."""

    def __init__(self, conn: psycopg.Connection[Any], batch_size: int) -> None:
        self._conn = conn
        self._batch_size = batch_size
        self.batches = 0
        self.retries = 0

    def run_once(self, query: str, params: dict[str, Any]) -> int:
        """One transaction; on a lock timeout or deadlock, the same batch again after a pause."""
        delay = 0.1
        while True:
            try:
                with self._conn.transaction():
                    self._conn.execute(sql("retention_lock_timeout"))
                    deleted = self._conn.execute(sql(query), params).rowcount
                self.batches += 1
                return max(deleted, 0)
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
                self.retries += 1
                log.info("retention batch (%s) met a lock (%s); retrying in %.1fs",
                         query, type(exc).__name__, delay)
                time.sleep(delay)
                delay = min(MAX_BACKOFF, delay * 2)

    def run_all(self, query: str, age: timedelta) -> int:
        total = 0
        while True:
            deleted = self.run_once(query, {"age": age, "batch": self._batch_size})
            total += deleted
            if deleted < self._batch_size:
                return total


def run_cleanup(database_url: str, *, retention_days: int, event_retention_days: int,
                insight_retention_days: int = 180, batch_size: int = 5000) -> CleanupResult:
    """Delete notifications older than `retention_days`, replay events older than
    `event_retention_days` and insight rows older than `insight_retention_days`, unless
    another instance is at it."""
    if min(retention_days, event_retention_days, insight_retention_days, batch_size) < 1:
        raise ValueError("retention days and batch size must be positive")
    with psycopg.connect(database_url, autocommit=True,
                         application_name="notifications-retention") as conn:
        row = conn.execute(sql("retention_try_lock"), {"key": RETENTION_LOCK_KEY}).fetchone()
        if not row or not row[0]:
            return CleanupResult(skipped=True)
        try:
            batches = _Batches(conn, batch_size)
            notes = batches.run_all("retention_notifications", timedelta(days=retention_days))
            events = batches.run_all("retention_events", timedelta(days=event_retention_days))
            batches.run_all("retention_insights", timedelta(days=insight_retention_days))
            batches.run_once("retention_gone_users", {})
            batches.run_once("retention_rate_limits", {})
        finally:
            conn.execute(sql("retention_unlock"), {"key": RETENTION_LOCK_KEY})
    return CleanupResult(notes, events, batches.batches, batches.retries)
