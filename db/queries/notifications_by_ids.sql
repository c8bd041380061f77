-- notifications_by_ids: the rows of one user named by id (WebSocket fan-out and replay).
-- Scoped by user_id as well, so a stray id can never leak another user's row.
SELECT id, seq, notification_type, content_type, content_id, content_title, content_url,
       actor_id, actor_handle, actor_avatar_url, emoji, comment_id, comment_preview,
       is_read, read_at, created_at, user_id
  FROM notifications
 WHERE id = ANY(%(ids)s::uuid[])
   AND user_id = ANY(%(user_ids)s::integer[])
