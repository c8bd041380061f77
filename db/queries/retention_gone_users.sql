-- retention_gone_users: the streams, preferences, push subscriptions (their queued pushes
-- go with them), digest marks and mutes of users the host has purged (we keep no
-- foreign key into the host's tables, see docs/DBA.md). A stream is dropped only once
-- nothing can move it again: no notification row of the user is left (the purge's
-- retractions, still waiting as requests, delete them and each deletion moves the stream)
-- and no change waits for the sequencer. Otherwise it is left for the next run: dropped
-- earlier, the sequencer would start it again from zero and fold those deletions into a
-- negative badge.
WITH gone AS (
    DELETE FROM notification_counters AS c
     WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = c.user_id)
       AND NOT EXISTS (SELECT 1 FROM notifications AS n WHERE n.user_id = c.user_id)
       AND NOT EXISTS (SELECT 1 FROM notification_changes AS ch WHERE ch.user_id = c.user_id)
    RETURNING c.user_id
), events AS (
    DELETE FROM notification_events AS e USING gone WHERE e.user_id = gone.user_id
), subscriptions AS (
    DELETE FROM notification_push_subscriptions AS s
     WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = s.user_id)
), digests AS (
    DELETE FROM notification_digests AS d
     WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = d.user_id)
), mutes AS (
    DELETE FROM notification_mutes AS m
     WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = m.user_id)
)
DELETE FROM notification_preferences AS p
 WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = p.user_id)
