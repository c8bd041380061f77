-- user_counter: the unread badge and stream position of one user.
-- The badge is exact at commit: the sequencer's folded count plus the deltas of
-- changes committed but not yet sequenced (read in this one snapshot). The
-- position is the last one sequenced: resuming the socket from it replays what
-- follows, including changes the badge and a list in this snapshot already show.
SELECT coalesce((SELECT unread_count FROM notification_counters WHERE user_id = %(user_id)s), 0)
       + coalesce((SELECT sum(unread_delta) FROM notification_changes WHERE user_id = %(user_id)s), 0),
       coalesce((SELECT last_seq FROM notification_counters WHERE user_id = %(user_id)s), 0)
