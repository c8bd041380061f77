-- mark_all_read: mark read every unread notification of the caller up to a stream position,
-- so one that arrived after the client's view stays unread: those are the ones created by a
-- change after `up_to` (in the replay log) or not sequenced yet. NULL means "everything committed".
-- Rows are locked in id order, as the sequencer locks them, so the two never deadlock.
UPDATE notifications
   SET is_read = true, read_at = now()
 WHERE id IN (SELECT id FROM notifications
               WHERE user_id = %(user_id)s
                 AND NOT is_read
                 AND (%(up_to)s::bigint IS NULL OR id <> ALL (ARRAY(
                         SELECT unnest(notification_ids) FROM notification_events
                          WHERE user_id = %(user_id)s AND seq > %(up_to)s::bigint
                            AND kind = 'created'
                         UNION ALL
                         SELECT unnest(notification_ids) FROM notification_changes
                          WHERE user_id = %(user_id)s AND kind = 'created')))
               ORDER BY id
                 FOR UPDATE)
   AND NOT is_read
