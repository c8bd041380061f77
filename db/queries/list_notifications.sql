-- list_notifications: one page of a user's notifications, newest first, with the badge
-- and stream position of the same snapshot (one statement: one snapshot, one round trip).
-- Keyset over the per-user unique seq (insertion order), so pages never skip or repeat a
-- row. Rows whose creation the sequencer has not numbered yet (milliseconds after the
-- host's commit) are left out, so every row listed is at or before the stream position
-- returned with the page: resuming the socket from it misses nothing.
-- The counter is user_counter.sql's. An empty page is one row of NULLs beside it.
-- Filters (unread only, one kind) narrow the same keyset, so a cursor pages within them.
-- Never returns actor_ip.
WITH page AS (
  SELECT id, user_id, seq, notification_type, content_type, content_id, content_title, content_url,
         actor_id, actor_handle, actor_avatar_url, emoji, comment_id, comment_preview,
         is_read, read_at, created_at
    FROM notifications
   WHERE user_id = %(user_id)s
     AND seq < %(before_seq)s
     AND (NOT %(unread_only)s OR NOT is_read)
     AND (%(notification_type)s::text IS NULL OR notification_type = %(notification_type)s::text)
     AND id <> ALL (ARRAY(SELECT unnest(notification_ids) FROM notification_changes
                           WHERE user_id = %(user_id)s AND kind = 'created'))
   ORDER BY seq DESC
   LIMIT %(limit)s
), counter AS (
  SELECT coalesce((SELECT unread_count FROM notification_counters WHERE user_id = %(user_id)s), 0)
         + coalesce((SELECT sum(unread_delta) FROM notification_changes
                      WHERE user_id = %(user_id)s), 0) AS unread_count,
         coalesce((SELECT last_seq FROM notification_counters WHERE user_id = %(user_id)s), 0)
           AS position
)
SELECT counter.unread_count, counter.position, page.*
  FROM counter LEFT JOIN page ON true
 ORDER BY page.seq DESC
