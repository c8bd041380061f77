-- push_worker_try_lock: one push worker per database (a session lock on its own connection).
SELECT pg_try_advisory_lock(%(key)s)
