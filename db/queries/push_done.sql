-- push_done: a queued push that was delivered or given up leaves the outbox.
DELETE FROM notification_push_outbox WHERE notification_id = %(notification_id)s AND subscription_id = %(subscription_id)s
