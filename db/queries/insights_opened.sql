-- insights_opened: a user opened one of their notifications (clicked through) from the
-- page, a push or a digest. Only the first open counts, with its channel. No row when the
-- notification is not the user's or is gone.
INSERT INTO notification_insights AS i (notification_id, user_id, kind, variant, created_at,
                                        opened_at, opened_via)
SELECT n.id, n.user_id, notification_insight_kind(n.notification_type, n.content_type),
       notification_ab_variant(%(experiment)s, %(variants)s::text[], n.user_id), n.created_at,
       now(), %(channel)s
  FROM notifications AS n
 WHERE n.id = %(id)s AND n.user_id = %(user_id)s
    ON CONFLICT (notification_id) DO UPDATE
   SET opened_at = coalesce(i.opened_at, EXCLUDED.opened_at),
       opened_via = coalesce(i.opened_via, EXCLUDED.opened_via)
RETURNING notification_id, (SELECT content_url FROM notifications WHERE id = %(id)s) AS content_url
