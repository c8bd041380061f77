-- retention_events: drop, for a batch of users, the prefix of their replay log up to the
-- newest position sequenced before the window. By position, never by a clock alone, so the
-- log that is left always runs contiguously to the stream head: no hole for a client to stall on.
WITH expired AS (
    SELECT user_id, max(seq) AS through
      FROM notification_events
     WHERE created_at < now() - %(age)s
     GROUP BY user_id
     LIMIT %(batch)s
)
DELETE FROM notification_events AS e
 USING expired
 WHERE e.user_id = expired.user_id AND e.seq <= expired.through
