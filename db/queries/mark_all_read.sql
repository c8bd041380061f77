-- mark_all_read: mark read every unread notification of the caller up to a stream position,
-- so one that arrived after the client's view stays unread. NULL means "everything committed".
UPDATE notifications
   SET is_read = true, read_at = now()
 WHERE user_id = %(user_id)s
   AND NOT is_read
   AND (%(up_to)s::bigint IS NULL OR seq <= %(up_to)s::bigint)
