-- notification_record_event(user_id, kind, notification_ids, unread_delta)
-- The one place that moves a user's counter: adds unread_delta to the unread
-- count, takes the next stream position, appends the change to
-- notification_events and announces it. Returns the position, or NULL when
-- the user no longer exists (a cascade from a purged account).
-- Callers must take users in ascending id order to rule out deadlocks.
--
-- The announcement is pg_notify('notifications_v1', '<user id>') unless
-- notification_settings.announce is off. The payload is only the id, so it
-- is tiny whatever the data, and PostgreSQL folds identical payloads: one
-- NOTIFY per recipient per transaction. Delivered at commit only; a rollback
-- announces nothing.
CREATE OR REPLACE FUNCTION notification_record_event(
    p_user_id integer,
    p_kind text,
    p_notification_ids uuid[],
    p_unread_delta bigint
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_seq bigint;
    v_unread bigint;
    v_announce boolean;
BEGIN
    -- One statement for the usual case: move the counter, log the change.
    WITH moved AS (
        UPDATE notification_counters
           SET unread_count = unread_count + p_unread_delta,
               last_seq = last_seq + 1
         WHERE user_id = p_user_id
        RETURNING last_seq, unread_count
    ), logged AS (
        INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count)
        SELECT p_user_id, last_seq, p_kind, p_notification_ids, unread_count FROM moved
        RETURNING seq
    )
    SELECT logged.seq, settings.announce INTO v_seq, v_announce
      FROM logged CROSS JOIN notification_settings AS settings;

    IF v_seq IS NULL THEN
        IF p_kind <> 'created' THEN
            RETURN NULL;
        END IF;
        -- First notification ever for this user: create the counter row
        -- (a concurrent first insert is serialised by the conflict).
        INSERT INTO notification_counters AS c (user_id, unread_count, last_seq)
        VALUES (p_user_id, p_unread_delta, 1)
        ON CONFLICT (user_id) DO UPDATE
           SET unread_count = c.unread_count + excluded.unread_count,
               last_seq = c.last_seq + 1
        RETURNING last_seq, unread_count INTO v_seq, v_unread;
        INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count)
        VALUES (p_user_id, v_seq, p_kind, p_notification_ids, v_unread);
        SELECT announce INTO v_announce FROM notification_settings;
    END IF;

    IF v_announce THEN
        PERFORM pg_notify('notifications_v1', p_user_id::text);
    END IF;
    RETURN v_seq;
END;
$$;

-- notification_counters_purge()
-- AFTER DELETE ON notification_counters, FOR EACH ROW.
-- A counter row goes only when its user is purged (FK cascade); the user's
-- replay log goes with it. A trigger rather than a foreign key because a
-- foreign key check would cost every event insert a lookup.
CREATE OR REPLACE FUNCTION notification_counters_purge()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM notification_events WHERE user_id = OLD.user_id;
    RETURN NULL;
END;
$$;
