-- A browser's push subscription for :user_id, at most :cap per user. An endpoint
-- already known moves to this user (a browser re-subscribing after a log-in as someone
-- else) with its new keys; its queued pushes for the old user are dropped by the worker
-- (their user_id no longer matches). No row back: the user is at the cap.
INSERT INTO notification_push_subscriptions AS s (user_id, endpoint, p256dh, auth)
SELECT %(user_id)s, %(endpoint)s, %(p256dh)s, %(auth)s
 WHERE (SELECT count(*) FROM notification_push_subscriptions
         WHERE user_id = %(user_id)s AND endpoint <> %(endpoint)s) < %(cap)s
ON CONFLICT (endpoint) DO UPDATE
   SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
       created_at = CASE WHEN s.user_id = excluded.user_id THEN s.created_at ELSE now() END,
       last_success_at = CASE WHEN s.user_id = excluded.user_id THEN s.last_success_at END
RETURNING id
