-- push_remove_subscription: the push service says the subscription is gone (404/410);
-- its queued pushes cascade.
DELETE FROM notification_push_subscriptions WHERE id = %(subscription_id)s
