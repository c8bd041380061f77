-- replay_window: for each socket's hello, of many users at once (a connect wave is
-- started in batches): the badge at the user's current stream position (the
-- sequencer's count, so every position a client sees carries its own exact count),
-- that position, and the oldest change still kept for replay.
SELECT w.user_id,
       coalesce(c.unread_count, 0) AS unread_count,
       coalesce(c.last_seq, 0) AS position,
       (SELECT min(e.seq) FROM notification_events e WHERE e.user_id = w.user_id) AS oldest
  FROM unnest(%(user_ids)s::integer[]) AS w(user_id)
  LEFT JOIN notification_counters c ON c.user_id = w.user_id
