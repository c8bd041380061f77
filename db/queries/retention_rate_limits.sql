-- retention_rate_limits: hourly flood-limit buckets are only read for the current hour.
DELETE FROM notification_rate_limits WHERE hour < date_trunc('hour', now()) - interval '1 hour'
