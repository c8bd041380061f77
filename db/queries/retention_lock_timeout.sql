-- retention_lock_timeout: a retention batch never waits long behind a writer's lock;
-- it retries later instead.
SET LOCAL lock_timeout = '1s'
