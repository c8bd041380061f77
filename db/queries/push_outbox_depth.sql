-- push_outbox_depth: queued pushes and the age in seconds of the oldest (for /health/ready).
SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
  FROM notification_push_outbox
