-- retention_insights: one batch of insight rows older than their own retention window
-- (NOTIFICATIONS_INSIGHTS_RETENTION_DAYS, longer than the notifications' own).
WITH doomed AS (
    SELECT notification_id FROM notification_insights
     WHERE created_at < now() - %(age)s
     LIMIT %(batch)s
)
DELETE FROM notification_insights AS i USING doomed WHERE i.notification_id = doomed.notification_id
