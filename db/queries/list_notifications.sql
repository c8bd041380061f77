-- list_notifications: one page of a user's notifications, newest first.
-- Keyset over the per-user unique seq, so pages never skip or repeat a row.
-- Never returns actor_ip.
SELECT id, seq, notification_type, content_type, content_id, content_title, content_url,
       actor_id, actor_handle, actor_avatar_url, emoji, comment_id, comment_preview,
       is_read, read_at, created_at
  FROM notifications
 WHERE user_id = %(user_id)s
   AND seq < %(before_seq)s
   AND (NOT %(unread_only)s OR NOT is_read)
 ORDER BY seq DESC
 LIMIT %(limit)s
