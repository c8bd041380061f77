"""`notifications check`: prove every counter and sequence matches the rows.

Never expected to find anything; it exists so operators can show it.
"""

from __future__ import annotations

import psycopg

# Counter rows whose unread_count differs from the unread rows, including
# users with unread rows but no counter row at all.
COUNTER_DRIFT = """
SELECT coalesce(c.user_id, n.user_id) AS user_id,
       coalesce(c.unread_count, 0) AS counter,
       coalesce(n.unread, 0) AS actual
  FROM notification_counters AS c
  FULL JOIN (SELECT user_id, count(*) AS unread
               FROM notifications WHERE NOT is_read GROUP BY user_id) AS n
    ON n.user_id = c.user_id
 WHERE coalesce(c.unread_count, 0) <> coalesce(n.unread, 0)
 ORDER BY 1
"""

# A notification positioned after its user's stream head, or with no counter.
SEQUENCE_AHEAD = """
SELECT n.user_id, max(n.seq) AS max_seq, c.last_seq
  FROM notifications AS n
  LEFT JOIN notification_counters AS c USING (user_id)
 GROUP BY n.user_id, c.last_seq
HAVING c.last_seq IS NULL OR max(n.seq) > c.last_seq
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
    # One snapshot for all three checks, so concurrent writers cannot fake drift.
    with psycopg.connect(database_url) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for user_id, counter, actual in conn.execute(COUNTER_DRIFT):
            problems.append(f"user {user_id}: unread counter {counter} but {actual} unread rows")
        for user_id, max_seq, last_seq in conn.execute(SEQUENCE_AHEAD):
            problems.append(f"user {user_id}: notification seq {max_seq} beyond stream head "
                            f"{last_seq}")
        for user_id, first, last, count, head in conn.execute(EVENT_GAPS):
            problems.append(f"user {user_id}: replay events {first}..{last} ({count} rows) "
                            f"do not run contiguously to stream head {head}")
    return problems
