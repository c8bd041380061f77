-- insights_follow_read: when each notification was first read, from the replay log's
-- 'read' events since %(since)s (mark-read, mark-all-read, a DBA's UPDATE alike).
UPDATE notification_insights AS i
   SET read_at = r.read_at
  FROM (SELECT read.id, min(e.created_at) AS read_at
          FROM notification_events AS e
         CROSS JOIN LATERAL unnest(e.notification_ids) AS read (id)
         WHERE e.kind = 'read' AND e.created_at > %(since)s AND e.created_at <= %(until)s
         GROUP BY read.id) AS r
 WHERE i.notification_id = r.id AND i.read_at IS NULL
