-- notifications_record_changes()
-- AFTER INSERT / UPDATE / DELETE ON notifications, FOR EACH STATEMENT, with
-- transition tables. Whoever changed the rows (a host trigger, the API,
-- the sequencer applying a retraction, retention, a DBA by hand), appends
-- per recipient one row to notification_changes saying what changed and by
-- how much the unread badge moves: 'created', 'read', 'unread', 'updated'
-- or 'deleted'. One row per statement, however many rows it touched (a COPY
-- of 100,000 reactions for 100 owners appends 100). Appends only: the sequencer folds these into each user's
-- counter and stream after the commit, so concurrent writers never touch a
-- shared row, and the badge (counter + pending deltas) is exact at commit.
-- When the sequencer applies a host's request, its changes carry that
-- request's id (`notifications.request`, set for the statement), so they are
-- numbered where the host's un-react or edit happened, not where it was applied.
-- Refuses to move a notification to another user or list position.
CREATE OR REPLACE FUNCTION notifications_record_changes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_request bigint := nullif(current_setting('notifications.request', true), '')::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- Unread and read rows apart, so that the sequencer, which gives every new
        -- notification its own position, knows each one's share of the delta.
        INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta, request_id)
        SELECT user_id, 'created', array_agg(id ORDER BY seq), count(*) FILTER (WHERE NOT is_read),
               v_request
          FROM new_rows
         GROUP BY user_id, is_read;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta, request_id)
        SELECT user_id, 'deleted', array_agg(id ORDER BY seq), -count(*) FILTER (WHERE NOT is_read),
               v_request
          FROM old_rows
         GROUP BY user_id;
    ELSE
        -- Old and new rows paired by a FULL JOIN, which a nested loop cannot run,
        -- with no WHERE that would turn it into an inner join: PL/pgSQL keeps the
        -- plan it made for the session's first UPDATE, often of one row, and a
        -- nested loop over two transition tables is quadratic (20,000 rows marked
        -- read after one: 85 s instead of 0.5 s). The triggers on the host's
        -- tables pair theirs the same way, in a MATERIALIZED CTE where they filter.
        IF (SELECT bool_or(o.user_id <> n.user_id OR o.seq <> n.seq)
              FROM old_rows o FULL JOIN new_rows n USING (id)) THEN
            RAISE EXCEPTION 'notifications.user_id and notifications.seq cannot change';
        END IF;
        INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta, request_id)
        SELECT per_user.user_id, changed.kind, changed.ids, changed.delta, v_request
          FROM (SELECT n.user_id,
                       array_agg(n.id ORDER BY n.seq) FILTER (WHERE n.is_read AND NOT o.is_read) AS read_ids,
                       array_agg(n.id ORDER BY n.seq) FILTER (WHERE o.is_read AND NOT n.is_read) AS unread_ids,
                       array_agg(n.id ORDER BY n.seq) FILTER (WHERE
                           (o.emoji, o.comment_preview, o.content_title, o.content_url,
                            o.actor_handle, o.actor_avatar_url)
                           IS DISTINCT FROM
                           (n.emoji, n.comment_preview, n.content_title, n.content_url,
                            n.actor_handle, n.actor_avatar_url)) AS updated_ids
                  FROM old_rows o FULL JOIN new_rows n USING (id)
                 GROUP BY n.user_id) AS per_user
         CROSS JOIN LATERAL (VALUES
                ('read', per_user.read_ids, -cardinality(per_user.read_ids)),
                ('unread', per_user.unread_ids, cardinality(per_user.unread_ids)),
                ('updated', per_user.updated_ids, 0)) AS changed (kind, ids, delta)
         WHERE changed.ids IS NOT NULL;
    END IF;
    RETURN NULL;
END;
$$;

-- Rows inserted from inside a trigger come from the host-table triggers or
-- notification_create_many(), which append their change in the same statement
-- (a second statement trigger on every host write cost a fifth of it); every
-- other insert (a DBA's, a script's) is recorded here.
CREATE OR REPLACE TRIGGER _900_record_inserts
    AFTER INSERT ON notifications REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION notifications_record_changes();
CREATE OR REPLACE TRIGGER _900_record_updates
    AFTER UPDATE ON notifications REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_record_changes();
CREATE OR REPLACE TRIGGER _900_record_deletes
    AFTER DELETE ON notifications REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_record_changes();
