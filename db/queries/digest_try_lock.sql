-- digest_try_lock: one digest worker at a time across every instance (a session lock).
SELECT pg_try_advisory_lock(%(key)s)
