-- sequence_batch: one sequencer batch (db/triggers/notification_sequence.sql): apply the
-- hosts' requests, number committed changes into each user's stream, announce once.
SELECT notification_sequence(%(max_rows)s)
