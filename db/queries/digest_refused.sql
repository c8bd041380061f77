-- digest_refused: the SMTP server refused the user's digest for good (a 5xx): it counts
-- as this period's digest, so the worker does not ask again every round; the mark stays
-- where it was (created at 0 if missing: the refused attempt's own insert rolled back),
-- so the next scheduled digest carries those notifications.
INSERT INTO notification_digests (user_id, last_sent_at) VALUES (%(user_id)s, now())
    ON CONFLICT (user_id) DO UPDATE SET last_sent_at = now()
