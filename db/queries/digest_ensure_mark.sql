-- digest_ensure_mark: the user's digest mark row, created at 0 if missing, so the sender
-- can lock it (digest_lock_mark) before it builds and sends.
INSERT INTO notification_digests (user_id) VALUES (%(user_id)s) ON CONFLICT (user_id) DO NOTHING
