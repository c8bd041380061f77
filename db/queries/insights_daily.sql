-- insights_daily: per day (UTC) and channel in [since, until): delivered and opened, for
-- the operators' chart.
SELECT date_trunc('day', r.created_at AT TIME ZONE 'UTC') AS day, c.channel,
       count(*) AS delivered,
       count(*) FILTER (WHERE r.opened_via = c.channel) AS opened
  FROM notification_insights AS r
 CROSS JOIN LATERAL (VALUES ('in_app', true), ('push', r.pushed_at IS NOT NULL),
                            ('email', r.emailed_at IS NOT NULL)) AS c (channel, delivered)
 WHERE r.created_at >= %(since)s AND r.created_at < %(until)s AND c.delivered
 GROUP BY 1, 2
 ORDER BY 1, 2
