-- digest_unlock: the end of this instance's digest round.
SELECT pg_advisory_unlock(%(key)s)
