-- push_delivered: the push service took it (201/202).
UPDATE notification_push_subscriptions SET last_success_at = now() WHERE id = %(subscription_id)s
