-- replay_window: for the socket's hello, the badge at the user's current stream position
-- (the sequencer's count, so every position a client sees carries its own exact count),
-- that position, and the oldest change still kept for replay.
SELECT coalesce((SELECT unread_count FROM notification_counters WHERE user_id = %(user_id)s), 0),
       coalesce((SELECT last_seq FROM notification_counters WHERE user_id = %(user_id)s), 0),
       (SELECT min(seq) FROM notification_events WHERE user_id = %(user_id)s)
