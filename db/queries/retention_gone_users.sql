-- retention_gone_users: the streams and preferences of users the host has purged (we keep no
-- foreign key into the host's tables, see docs/DBA.md). A stream with changes still waiting
-- for the sequencer is left for the next run.
WITH gone AS (
    DELETE FROM notification_counters AS c
     WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = c.user_id)
       AND NOT EXISTS (SELECT 1 FROM notification_changes AS ch WHERE ch.user_id = c.user_id)
    RETURNING c.user_id
), events AS (
    DELETE FROM notification_events AS e USING gone WHERE e.user_id = gone.user_id
)
DELETE FROM notification_preferences AS p
 WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = p.user_id)
