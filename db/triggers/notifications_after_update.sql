-- notifications_after_update()
-- AFTER UPDATE ON notifications, FOR EACH STATEMENT, with transition tables.
-- Per recipient (in user id order), moves the unread counter by the rows
-- that changed read state and records one 'read', 'unread' or 'updated'
-- event for the whole statement: marking 5,000 rows read is one event.
-- Refuses to move a notification to another user or stream position.
CREATE OR REPLACE FUNCTION notifications_after_update()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    -- An aggregate, not EXISTS: EXISTS gets a fast-start nested loop over the
    -- two transition tables, quadratic when (as always) nothing matches.
    IF (SELECT bool_or(o.user_id <> n.user_id OR o.seq <> n.seq)
          FROM old_rows o JOIN new_rows n USING (id)) THEN
        RAISE EXCEPTION 'notifications.user_id and notifications.seq cannot change';
    END IF;

    FOR r IN
        SELECT n.user_id,
               array_agg(n.id) FILTER (WHERE n.is_read AND NOT o.is_read) AS read_ids,
               array_agg(n.id) FILTER (WHERE o.is_read AND NOT n.is_read) AS unread_ids,
               array_agg(n.id) FILTER (WHERE
                   (o.emoji, o.comment_preview, o.content_title, o.content_url,
                    o.actor_handle, o.actor_avatar_url)
                   IS DISTINCT FROM
                   (n.emoji, n.comment_preview, n.content_title, n.content_url,
                    n.actor_handle, n.actor_avatar_url)) AS updated_ids
          FROM old_rows o JOIN new_rows n USING (id)
         GROUP BY n.user_id
         ORDER BY n.user_id
    LOOP
        IF r.read_ids IS NOT NULL THEN
            PERFORM notification_record_event(r.user_id, 'read', r.read_ids, -cardinality(r.read_ids));
        END IF;
        IF r.unread_ids IS NOT NULL THEN
            PERFORM notification_record_event(r.user_id, 'unread', r.unread_ids, cardinality(r.unread_ids));
        END IF;
        IF r.updated_ids IS NOT NULL THEN
            PERFORM notification_record_event(r.user_id, 'updated', r.updated_ids, 0);
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
