-- insights_report: per kind and channel, the notifications created in [since, until):
-- delivered (in the app: all; push: pushed; email: in a digest), opened through that
-- channel, and the median seconds to open (through it) and to read.
SELECT r.kind, c.channel,
       count(*) AS delivered,
       count(*) FILTER (WHERE r.opened_via = c.channel) AS opened,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.opened_at - r.created_at))
           FILTER (WHERE r.opened_via = c.channel) AS median_seconds_to_open,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.read_at - r.created_at))
           FILTER (WHERE r.read_at IS NOT NULL) AS median_seconds_to_read
  FROM notification_insights AS r
 CROSS JOIN LATERAL (VALUES ('in_app', true), ('push', r.pushed_at IS NOT NULL),
                            ('email', r.emailed_at IS NOT NULL)) AS c (channel, delivered)
 WHERE r.created_at >= %(since)s AND r.created_at < %(until)s AND c.delivered
 GROUP BY r.kind, c.channel
 ORDER BY r.kind, c.channel
