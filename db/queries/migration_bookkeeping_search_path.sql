-- migration_bookkeeping_search_path: yoyo's own connection sees only our bookkeeping
-- schema, never the host's tables in `public`.
SET search_path = notification_migrations
