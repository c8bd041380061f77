-- push_claim: up to :batch queued pushes that are due (queued at least :delay seconds ago
-- and not waiting for a retry or held by a live lease), taken past rows another claim
-- holds; each gets an attempt and a lease of :lease seconds, so a worker that dies mid-send
-- leaves it to be claimed again once the lease ends.
WITH due AS (
    SELECT notification_id, subscription_id
      FROM notification_push_outbox
     WHERE not_before <= now() AND created_at <= now() - make_interval(secs => %(delay)s)
     ORDER BY not_before
     LIMIT %(batch)s
       FOR UPDATE SKIP LOCKED
)
UPDATE notification_push_outbox AS o
   SET attempts = o.attempts + 1, not_before = now() + make_interval(secs => %(lease)s)
  FROM due
 WHERE o.notification_id = due.notification_id AND o.subscription_id = due.subscription_id
RETURNING o.notification_id, o.subscription_id, o.user_id, o.attempts
