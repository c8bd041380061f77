"""`notifications check`: prove every counter and sequence matches the rows.

Never expected to find anything; it exists so operators can show it.
"""

from __future__ import annotations

import psycopg

from pg_social_notifications.queries import sql


def find_drift(database_url: str) -> list[str]:
    """Every inconsistency found, as readable lines; empty when all is exact."""
    problems: list[str] = []
    # One snapshot for both checks, so concurrent writers cannot fake drift.
    with psycopg.connect(database_url) as conn:
        conn.isolation_level, conn.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
        for user_id, counter, actual in conn.execute(sql("counter_drift")):
            problems.append(f"user {user_id}: unread counter {counter} but {actual} unread rows")
        for user_id, first, last, count, head in conn.execute(sql("event_gaps")):
            problems.append(f"user {user_id}: replay events {first}..{last} ({count} rows) "
                            f"do not run contiguously to stream head {head}")
        for notification_id, user_id, kind in conn.execute(sql("check_malformed_notifications")):
            problems.append(f"user {user_id}: notification {notification_id} ({kind}) is malformed: "
                            "it needs a known kind, exactly one content id and its kind's source id")
    return problems
