-- insights_follow_created: an insight row for each notification the replay log says was
-- created since %(since)s (the sequencer's 'created' events; the BRIN index on their
-- created_at), with its kind and the user's variant. A notification already gone
-- (retracted meanwhile) has none; one already there (a push or an open came first) keeps
-- its row.
INSERT INTO notification_insights (notification_id, user_id, kind, variant, created_at)
SELECT n.id, n.user_id, notification_insight_kind(n.notification_type, n.content_type),
       notification_ab_variant(%(experiment)s, %(variants)s::text[], n.user_id), n.created_at
  FROM notification_events AS e
 CROSS JOIN LATERAL unnest(e.notification_ids) AS created (id)
  JOIN notifications AS n ON n.id = created.id
 WHERE e.kind = 'created' AND e.created_at > %(since)s AND e.created_at <= %(until)s
    ON CONFLICT (notification_id) DO NOTHING
