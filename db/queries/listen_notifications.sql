-- listen_notifications: the channel the sequencer announces each batch on
-- (db/triggers/notification_sequence.sql); its payload is the comma-separated ids of the
-- users whose stream moved.
LISTEN notifications_v2
