-- migration_lock_timeout: a migration waits at most 2 s for a lock (a host transaction
-- holding one), then gives up, says who held it and is retried (migrations.LOCK_TIMEOUT).
SET lock_timeout = '2s'
