-- insights_variants: per A/B variant and channel, the notifications created in
-- [since, until): delivered and opened through that channel (rows without a variant,
-- from before the experiment, are left out).
SELECT r.variant, c.channel,
       count(*) AS delivered,
       count(*) FILTER (WHERE r.opened_via = c.channel) AS opened
  FROM notification_insights AS r
 CROSS JOIN LATERAL (VALUES ('in_app', true), ('push', r.pushed_at IS NOT NULL),
                            ('email', r.emailed_at IS NOT NULL)) AS c (channel, delivered)
 WHERE r.created_at >= %(since)s AND r.created_at < %(until)s AND c.delivered
   AND r.variant IS NOT NULL
 GROUP BY r.variant, c.channel
 ORDER BY r.variant, c.channel
