-- health_check: the database answers and the notification tables are there.
SELECT 1 FROM notification_counters LIMIT 1
