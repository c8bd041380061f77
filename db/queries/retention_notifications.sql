-- retention_notifications: one batch of notifications older than the retention window.
-- Skips rows another transaction has locked (they are retried in a later batch); the
-- delete appends its changes like any other, so counters and streams stay exact.
WITH doomed AS (
    SELECT id FROM notifications
     WHERE created_at < now() - %(age)s
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
)
DELETE FROM notifications AS n USING doomed WHERE n.id = doomed.id
