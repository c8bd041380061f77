-- retention_unlock: the end of this instance's retention run.
SELECT pg_advisory_unlock(%(key)s)
