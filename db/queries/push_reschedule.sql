-- push_reschedule: try again in :delay seconds (429 or 5xx), noting why.
UPDATE notification_push_outbox
   SET not_before = now() + make_interval(secs => %(delay)s), last_error = %(error)s
 WHERE notification_id = %(notification_id)s AND subscription_id = %(subscription_id)s
