"""`notifications check`: prove every counter and sequence matches the rows.

Never expected to find anything; it exists so operators can show it.
"""

from __future__ import annotations

import psycopg

from pg_social_notifications.queries import sql

# Users whose badge (the sequencer's count plus the deltas still waiting for it)
# differs from their unread rows, including users with unread rows and no counter.
COUNTER_DRIFT = """
SELECT coalesce(c.user_id, n.user_id) AS user_id,
       coalesce(c.unread_count, 0) AS counter,
       coalesce(n.unread, 0) AS actual
  FROM (SELECT coalesce(folded.user_id, pending.user_id) AS user_id,
               coalesce(folded.unread_count, 0) + coalesce(pending.delta, 0) AS unread_count
          FROM notification_counters AS folded
          FULL JOIN (SELECT user_id, sum(unread_delta) AS delta
                       FROM notification_changes GROUP BY user_id) AS pending
            ON pending.user_id = folded.user_id) AS c
  FULL JOIN (SELECT user_id, count(*) AS unread
               FROM notifications WHERE NOT is_read GROUP BY user_id) AS n
    ON n.user_id = c.user_id
 WHERE coalesce(c.unread_count, 0) <> coalesce(n.unread, 0)
 ORDER BY 1
"""

# The replay log must be contiguous and end exactly at the stream head.
EVENT_GAPS = """
SELECT e.user_id, min(e.seq) AS first_seq, max(e.seq) AS last_event, count(*) AS events,
       c.last_seq
  FROM notification_events AS e
  JOIN notification_counters AS c USING (user_id)
 GROUP BY e.user_id, c.last_seq
HAVING max(e.seq) <> c.last_seq OR count(*) <> max(e.seq) - min(e.seq) + 1
 ORDER BY 1
"""


def find_drift(database_url: str) -> list[str]:
    """Every inconsistency found, as readable lines; empty when all is exact."""
    problems: list[str] = []
    # One snapshot for both checks, so concurrent writers cannot fake drift.
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for user_id, counter, actual in conn.execute(COUNTER_DRIFT):
            problems.append(f"user {user_id}: unread counter {counter} but {actual} unread rows")
        for user_id, first, last, count, head in conn.execute(EVENT_GAPS):
            problems.append(f"user {user_id}: replay events {first}..{last} ({count} rows) "
                            f"do not run contiguously to stream head {head}")
        for notification_id, user_id, kind in conn.execute(sql("check_malformed_notifications")):
            problems.append(f"user {user_id}: notification {notification_id} ({kind}) is malformed: "
                            "it needs a known kind, exactly one content id and its kind's source id")
    return problems
