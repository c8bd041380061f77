-- migration_bookkeeping_schema: where yoyo keeps which migrations are applied.
CREATE SCHEMA IF NOT EXISTS notification_migrations
