-- insights_set_mark: the follower has read the replay log up to %(until)s.
INSERT INTO notification_insight_marks (name, covered_until) VALUES ('events', %(until)s)
    ON CONFLICT (name) DO UPDATE SET covered_until = greatest(notification_insight_marks.covered_until,
                                                              EXCLUDED.covered_until)
