-- The caller's own subscription at :endpoint goes (its queued pushes cascade); another
-- user's endpoint is left alone.
DELETE FROM notification_push_subscriptions WHERE endpoint = %(endpoint)s AND user_id = %(user_id)s
