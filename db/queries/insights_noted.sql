-- insights_noted: notifications of a user that went out through a channel now: pushed
-- (the push worker, one id) or emailed (the digest worker, a digest's ids). The row is
-- made here when the follower has not come to it yet.
INSERT INTO notification_insights AS i (notification_id, user_id, kind, variant, created_at,
                                        pushed_at, emailed_at)
SELECT n.id, n.user_id, notification_insight_kind(n.notification_type, n.content_type),
       notification_ab_variant(%(experiment)s, %(variants)s::text[], n.user_id), n.created_at,
       CASE WHEN %(channel)s = 'push' THEN now() END, CASE WHEN %(channel)s = 'email' THEN now() END
  FROM notifications AS n
 WHERE n.id = ANY(%(ids)s::uuid[]) AND n.user_id = %(user_id)s
    ON CONFLICT (notification_id) DO UPDATE
   SET pushed_at = coalesce(i.pushed_at, EXCLUDED.pushed_at),
       emailed_at = coalesce(i.emailed_at, EXCLUDED.emailed_at)
