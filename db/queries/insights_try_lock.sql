-- insights_try_lock: one insight follower at a time across every instance, for the
-- length of its transaction.
SELECT pg_try_advisory_xact_lock(%(key)s)
