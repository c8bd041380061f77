-- mark_read: mark some of the caller's notifications read. Ids of other users match nothing.
-- Rows are locked in id order, as the sequencer locks them, so the two never deadlock.
-- The statement trigger appends one 'read' change for the sequencer.
UPDATE notifications
   SET is_read = true, read_at = now()
 WHERE id IN (SELECT id FROM notifications
               WHERE user_id = %(user_id)s
                 AND id = ANY(%(ids)s::uuid[])
                 AND NOT is_read
               ORDER BY id
                 FOR UPDATE)
   AND NOT is_read
