-- mark_read: mark some of the caller's notifications read. Ids of other users match nothing.
-- The statement trigger moves the counter and records one 'read' event.
UPDATE notifications
   SET is_read = true, read_at = now()
 WHERE user_id = %(user_id)s
   AND id = ANY(%(ids)s::uuid[])
   AND NOT is_read
