-- Drops only the service's own tables; host tables and their data stay as they were.
DROP TABLE IF EXISTS notification_events;
DROP TABLE IF EXISTS notification_rate_limits;
DROP TABLE IF EXISTS notifications;
DROP TABLE IF EXISTS notification_counters;
DROP TABLE IF EXISTS notification_preferences;
DROP TABLE IF EXISTS notification_settings;
