-- push_subscription: where and how to push a claimed row, if the subscription is still
-- the same user's (an endpoint can move to another user: then nothing).
SELECT endpoint, p256dh, auth FROM notification_push_subscriptions
 WHERE id = %(id)s AND user_id = %(user_id)s
