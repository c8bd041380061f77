-- notifications_after_delete()
-- AFTER DELETE ON notifications, FOR EACH STATEMENT, with transition tables.
-- Whatever removed the rows (un-react, comment moderation, the API, a
-- cascade from a purged post or user, retention), takes the unread ones off
-- the recipient's badge and records one 'deleted' event per recipient.
CREATE OR REPLACE FUNCTION notifications_after_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT user_id,
               array_agg(id) AS ids,
               count(*) FILTER (WHERE NOT is_read) AS unread
          FROM old_rows
         GROUP BY user_id
         ORDER BY user_id
    LOOP
        PERFORM notification_record_event(r.user_id, 'deleted', r.ids, -r.unread);
    END LOOP;
    RETURN NULL;
END;
$$;
