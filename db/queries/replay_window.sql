-- replay_window: the user's current position and the oldest change still kept for replay.
SELECT coalesce((SELECT unread_count FROM notification_counters WHERE user_id = %(user_id)s), 0),
       coalesce((SELECT last_seq FROM notification_counters WHERE user_id = %(user_id)s), 0),
       (SELECT min(seq) FROM notification_events WHERE user_id = %(user_id)s)
