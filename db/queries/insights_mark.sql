-- insights_mark: how far the follower has read the replay log (NULL before its first run).
SELECT covered_until FROM notification_insight_marks WHERE name = 'events'
