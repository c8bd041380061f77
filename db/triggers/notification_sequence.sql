-- notification_sequence(max_rows)
-- The sequencer: called by the service (one instance at a time, the one
-- holding the leader lock), never by a host transaction. In one short
-- transaction of ours it
--   1. applies what host transactions asked for after they committed
--      (notification_requests: retractions, edits, truncations), in the
--      order they were asked; deleting or updating the rows appends their
--      changes like any other writer's;
--   2. gives each committed change (notification_changes) the next
--      gap-free position of its user's stream (rows of transactions still in
--      flight are invisible here and wait for a later call), in the order
--      they were written (a request's changes where the request was made),
--      folds its unread delta into notification_counters and appends it to
--      the replay log notification_events;
--   3. counts new notifications into the hourly flood-limit buckets;
--   4. queues a Web Push of each new notification to each push subscription
--      of its user (notification_push_outbox; whether and when it goes is the
--      push worker's to decide as it sends: preferences, open sockets, quiet
--      hours, retraction);
--   5. announces the users whose stream moved with one pg_notify per 500
--      users on 'notifications_v2' (payload: comma-separated user ids),
--      unless notification_settings.announce is off.
-- Returns how many requests and changes it took; max_rows bounds each.
-- A transaction-level advisory lock serialises concurrent callers.
CREATE OR REPLACE FUNCTION notification_sequence(p_max_rows integer DEFAULT 5000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    r notification_requests;
    v_requests notification_requests[];
    v_changes notification_changes[];
    v_users integer[];
    v_limit integer;
    v_announce boolean;
    v_chunk text;
BEGIN
    -- "notifications sequencer": one caller at a time, whoever it is.
    PERFORM pg_advisory_xact_lock(7957654591838347569);
    SELECT max_per_actor_per_hour, announce INTO v_limit, v_announce FROM notification_settings;

    WITH taken AS (
        DELETE FROM notification_requests
         WHERE id IN (SELECT id FROM notification_requests ORDER BY id LIMIT p_max_rows)
        RETURNING *
    )
    SELECT array_agg(taken ORDER BY taken.id) INTO v_requests FROM taken;

    -- Lock every row the batch's requests touch, in id order, before touching
    -- any: every multi-row writer of ours locks in that order (mark-read), so
    -- they can only wait for one another, never deadlock.
    PERFORM 1 FROM notifications
     WHERE id IN (SELECT n.id
                    FROM unnest(v_requests) AS req
                    JOIN notifications AS n ON n.reaction_id = ANY (req.reaction_ids)
                   WHERE req.notification_type = 'reaction' AND n.notification_type = 'reaction'
                     AND n.content_type = req.content_type AND n.seq < req.id
                  UNION ALL
                  SELECT n.id
                    FROM unnest(v_requests) AS req
                    JOIN notifications AS n ON n.comment_id = ANY (req.comment_ids)
                   WHERE req.notification_type = 'comment' AND n.notification_type = 'comment'
                     AND n.content_type = req.content_type AND n.seq < req.id)
     ORDER BY id
       FOR UPDATE;

    FOREACH r IN ARRAY coalesce(v_requests, '{}') LOOP
        -- The changes this request's statements write are ordered by its id.
        PERFORM set_config('notifications.request', r.id::text, true);
        -- `seq < r.id`: only notifications that existed when the host asked,
        -- never one a later undelete wrote again.
        IF r.kind = 'retract' AND r.notification_type = 'reaction' THEN
            DELETE FROM notifications
             WHERE reaction_id = ANY (r.reaction_ids) AND notification_type = 'reaction'
               AND content_type = r.content_type AND seq < r.id;
        ELSIF r.kind = 'retract' THEN
            DELETE FROM notifications
             WHERE comment_id = ANY (r.comment_ids) AND notification_type = 'comment'
               AND content_type = r.content_type AND seq < r.id;
        ELSIF r.kind = 'truncate' THEN  -- rare; its rows are locked as the DELETE meets them
            DELETE FROM notifications
             WHERE content_type = r.content_type
               AND (r.notification_type IS NULL OR notification_type = r.notification_type)
               AND seq < r.id;
        ELSE
            -- An edit is carried over, and so announced, only where a new
            -- notification by this actor would be allowed now, within the
            -- hourly limit (notification_may_edit); each edit counts towards it.
            WITH edit AS (
                SELECT * FROM unnest(r.reaction_ids, r.comment_ids, r.texts)
                           AS e (reaction_id, comment_id, text)
            ), edited AS (
                UPDATE notifications AS n
                   SET emoji = edit.text
                  FROM edit
                 WHERE r.notification_type = 'reaction' AND n.reaction_id = edit.reaction_id
                   AND n.notification_type = 'reaction' AND n.content_type = r.content_type
                   AND n.seq < r.id AND n.emoji IS DISTINCT FROM edit.text
                   AND notification_may_edit(n.user_id, n.actor_id, n.actor_ip,
                                             n.notification_type, n.content_type, v_limit)
                RETURNING n.user_id, n.actor_id, n.actor_ip
            ), edited_comments AS (
                UPDATE notifications AS n
                   SET comment_preview = notification_comment_preview(edit.text)
                  FROM edit
                 WHERE r.notification_type = 'comment' AND n.comment_id = edit.comment_id
                   AND n.notification_type = 'comment' AND n.content_type = r.content_type
                   AND n.seq < r.id
                   AND n.comment_preview IS DISTINCT FROM notification_comment_preview(edit.text)
                   AND notification_may_edit(n.user_id, n.actor_id, n.actor_ip,
                                             n.notification_type, n.content_type, v_limit)
                RETURNING n.user_id, n.actor_id, n.actor_ip
            )
            INSERT INTO notification_rate_limits AS b (user_id, actor_key, hour, notifications)
            SELECT user_id, notification_actor_key(actor_id, actor_ip), date_trunc('hour', now()), count(*)
              FROM (SELECT * FROM edited UNION ALL SELECT * FROM edited_comments) AS applied
             WHERE v_limit IS NOT NULL
             GROUP BY 1, 2
            ON CONFLICT (user_id, actor_key, hour) DO UPDATE
               SET notifications = b.notifications + excluded.notifications;
        END IF;
    END LOOP;
    PERFORM set_config('notifications.request', '', true);

    -- Everything committed so far, this transaction's own retractions included.
    WITH taken AS (
        DELETE FROM notification_changes
         WHERE id IN (SELECT id FROM notification_changes ORDER BY id LIMIT p_max_rows)
        RETURNING *
    )
    SELECT array_agg(taken ORDER BY taken.id) INTO v_changes FROM taken;
    IF v_changes IS NULL THEN
        RETURN cardinality(coalesce(v_requests, '{}'));
    END IF;

    -- A user's first change starts their stream (a CHECK on an upsert's proposed
    -- row would see a bare negative delta, hence a row of zeros first).
    INSERT INTO notification_counters (user_id, unread_count, last_seq)
    SELECT DISTINCT c.user_id, 0, 0 FROM unnest(v_changes) AS c
    ON CONFLICT (user_id) DO NOTHING;

    WITH change AS (
        -- Every new notification gets a position of its own (a client is told of
        -- each by its own message); a read, unread, updated or deleted change
        -- takes one position for all its rows.
        SELECT e.*, row_number() OVER w AS nth, sum(e.unread_delta) OVER w AS running
          FROM (SELECT c.user_id, c.kind, one.ids AS notification_ids, one.delta AS unread_delta,
                       coalesce(c.request_id, c.id) AS written, c.id, one.ord
                  FROM unnest(v_changes) AS c
                 CROSS JOIN LATERAL (
                       SELECT ARRAY[u.id] AS ids, sign(c.unread_delta)::integer AS delta, u.ord
                         FROM unnest(c.notification_ids) WITH ORDINALITY AS u (id, ord)
                        WHERE c.kind = 'created'
                       UNION ALL
                       SELECT c.notification_ids, c.unread_delta, 1
                        WHERE c.kind <> 'created') AS one
               ) AS e
        WINDOW w AS (PARTITION BY e.user_id ORDER BY e.written, e.id, e.ord
                     ROWS UNBOUNDED PRECEDING)
    ), per_user AS (
        SELECT user_id, count(*) AS moves, sum(unread_delta) AS delta
          FROM change GROUP BY user_id
    ), head AS (
        -- Where each user's stream stood before this batch.
        UPDATE notification_counters AS c
           SET unread_count = c.unread_count + per_user.delta,
               last_seq = c.last_seq + per_user.moves
          FROM per_user
         WHERE c.user_id = per_user.user_id
        RETURNING c.user_id, c.last_seq - per_user.moves AS last_seq,
                  c.unread_count - per_user.delta AS unread_count
    )
    INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count, created_at)
    SELECT change.user_id, head.last_seq + change.nth, change.kind,
           change.notification_ids, head.unread_count + change.running, now()
      FROM change
      JOIN head USING (user_id)
     ORDER BY change.user_id, change.nth;

    IF v_limit IS NOT NULL THEN
        INSERT INTO notification_rate_limits AS b (user_id, actor_key, hour, notifications)
        SELECT n.user_id, notification_actor_key(n.actor_id, n.actor_ip), date_trunc('hour', n.created_at),
               count(*)
          FROM notifications AS n
         WHERE n.id IN (SELECT unnest(c.notification_ids) FROM unnest(v_changes) AS c
                         WHERE c.kind = 'created')
         GROUP BY 1, 2, 3
        ON CONFLICT (user_id, actor_key, hour) DO UPDATE
           SET notifications = b.notifications + excluded.notifications;
    END IF;

    -- Only users with a subscription get rows: a probe of its user_id index each.
    INSERT INTO notification_push_outbox (notification_id, subscription_id, user_id)
    SELECT created.id, s.id, s.user_id
      FROM (SELECT c.user_id, unnest(c.notification_ids) AS id
              FROM unnest(v_changes) AS c WHERE c.kind = 'created') AS created
      JOIN notification_push_subscriptions AS s ON s.user_id = created.user_id
    ON CONFLICT DO NOTHING;

    IF v_announce THEN
        FOR v_chunk IN
            SELECT string_agg(u::text, ',' ORDER BY u)
              FROM (SELECT u, (row_number() OVER (ORDER BY u) - 1) / 500 AS chunk
                      FROM (SELECT DISTINCT c.user_id AS u FROM unnest(v_changes) AS c) AS moved
                   ) AS numbered
             GROUP BY chunk
        LOOP
            PERFORM pg_notify('notifications_v2', v_chunk);
        END LOOP;
    END IF;
    RETURN cardinality(coalesce(v_requests, '{}')) + cardinality(v_changes);
END;
$$;
-- Only the service's role calls it (docs/DBA.md, roles).
REVOKE EXECUTE ON FUNCTION notification_sequence(integer) FROM PUBLIC;
