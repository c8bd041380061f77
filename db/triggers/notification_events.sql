-- notification_record_event(user_id, kind, notification_ids, unread_delta)
-- The one place that moves a user's counter: adds unread_delta to the unread
-- count, takes the next stream position, appends the change to
-- notification_events and announces it. Returns the position, or NULL when
-- the user no longer exists (a cascade from a purged account).
-- Callers must take users in ascending id order to rule out deadlocks.
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
    counter notification_counters;
BEGIN
    UPDATE notification_counters
       SET unread_count = unread_count + p_unread_delta,
           last_seq = last_seq + 1
     WHERE user_id = p_user_id
    RETURNING * INTO counter;
    IF NOT FOUND THEN
        IF p_kind <> 'created' THEN
            RETURN NULL;
        END IF;
        -- First notification ever for this user: create the counter row.
        INSERT INTO notification_counters AS c (user_id, unread_count, last_seq)
        VALUES (p_user_id, p_unread_delta, 1)
        ON CONFLICT (user_id) DO UPDATE
           SET unread_count = c.unread_count + excluded.unread_count,
               last_seq = c.last_seq + 1
        RETURNING * INTO counter;
    END IF;
    INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count)
    VALUES (p_user_id, counter.last_seq, p_kind, p_notification_ids, counter.unread_count);
    PERFORM notification_announce(p_user_id);
    RETURN counter.last_seq;
END;
$$;
