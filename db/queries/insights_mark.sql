-- insights_mark: how far the follower has read the replay log (NULL before its first run),
-- and the database's own clock, which wrote the events' created_at (the service's may differ).
SELECT (SELECT covered_until FROM notification_insight_marks WHERE name = 'events'), now()
