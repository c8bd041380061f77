-- Old and new rows paired so that no cached plan is quadratic: the UPDATE
-- triggers joined their two transition tables with an inner join, and
-- PL/pgSQL keeps the plan it made for a session's first such statement. After
-- a one-row UPDATE that plan is a nested loop, and the session's next bulk
-- UPDATE is quadratic in the host's transaction (20,000 comment edits: 39 s
-- instead of 0.1 s; 20,000 notifications marked read: 85 s instead of 0.5 s).
-- Now a FULL JOIN, which a nested loop cannot run, kept apart from any WHERE
-- (a MATERIALIZED CTE) that would turn it back into an inner join. Installs
-- frozen copies of the changed db/triggers/*.sql files. See docs/DBA.md.
-- depends: 0004_one_statement_per_host_write

-- ===== db/triggers/notifications_record_changes.sql =====
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

-- ===== db/triggers/reactions_notify.sql =====
-- notifications_from_reactions()
-- AFTER INSERT / UPDATE / DELETE ON reactions and blog_post_reactions,
-- FOR EACH STATEMENT, with transition tables. TG_ARGV[0] names the content
-- ('post' or 'blog_post'): one function serves both twin tables.
--   INSERT  notifies each post's owner (one row here, more through
--           notification_create_many());
--   DELETE  (un-react, or a cascade from a purged post or user) asks the
--           sequencer to retract those reactions' notifications;
--   UPDATE  of emoji asks the sequencer to carry the new emoji over.
-- It runs inside the host's transaction, so it only reads and appends: no
-- row that another transaction writes is updated or locked, nothing is
-- announced (the sequencer does that after the commit), and it runs as its
-- owner with a fixed search_path, whatever the host's role and session.
CREATE OR REPLACE FUNCTION notifications_from_reactions()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_content text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- The usual case, one row: one statement, written out for each twin
        -- table (their content columns differ); see notification_create_many().
        IF (SELECT count(*) FROM new_rows) = 1 THEN
            IF v_content = 'post' THEN
                WITH created AS (
                    INSERT INTO notifications (
                        user_id, notification_type, post_id, actor_id, actor_ip, actor_handle,
                        actor_avatar_url, reaction_id, emoji, content_title, content_url)
                    SELECT content.owner_id, 'reaction', r.post_id, r.user_id,
                           -- a signed-in actor's IP is not ours to keep
                           CASE WHEN r.user_id IS NULL THEN r.user_ip::text END,
                           actor.handle, actor.avatar_url, r.id, r.emoji, content.title, content.url
                      FROM new_rows AS r
                     CROSS JOIN LATERAL notification_content('post', r.post_id) AS content
                     CROSS JOIN LATERAL notification_allowed(content.owner_id, r.user_id, 'reaction', 'post')
                     CROSS JOIN LATERAL notification_within_limit(content.owner_id, r.user_id,
                                                                  r.user_ip::text, 1)
                     CROSS JOIN LATERAL notification_actor(r.user_id) AS actor
                    RETURNING user_id, id
                )
                INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
                SELECT user_id, 'created', ARRAY[id], 1 FROM created;
            ELSE
                WITH created AS (
                    INSERT INTO notifications (
                        user_id, notification_type, blog_post_id, actor_id, actor_ip, actor_handle,
                        actor_avatar_url, reaction_id, emoji, content_title, content_url)
                    SELECT content.owner_id, 'reaction', r.blog_post_id, r.user_id,
                           -- a signed-in actor's IP is not ours to keep
                           CASE WHEN r.user_id IS NULL THEN r.user_ip::text END,
                           actor.handle, actor.avatar_url, r.id, r.emoji, content.title, content.url
                      FROM new_rows AS r
                     CROSS JOIN LATERAL notification_content('blog_post', r.blog_post_id) AS content
                     CROSS JOIN LATERAL notification_allowed(content.owner_id, r.user_id, 'reaction', 'blog_post')
                     CROSS JOIN LATERAL notification_within_limit(content.owner_id, r.user_id,
                                                                  r.user_ip::text, 1)
                     CROSS JOIN LATERAL notification_actor(r.user_id) AS actor
                    RETURNING user_id, id
                )
                INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
                SELECT user_id, 'created', ARRAY[id], 1 FROM created;
            END IF;
        ELSIF v_content = 'post' THEN
            PERFORM notification_create_many('reaction', v_content, array_agg(post_id),
                        array_agg(user_id), array_agg(user_ip::text), array_agg(id),
                        array_agg(emoji::text), NULL, NULL)
               FROM new_rows;
        ELSE
            PERFORM notification_create_many('reaction', v_content, array_agg(blog_post_id),
                        array_agg(user_id), array_agg(user_ip::text), array_agg(id),
                        array_agg(emoji::text), NULL, NULL)
               FROM new_rows;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO notification_requests (kind, notification_type, content_type, reaction_ids)
        SELECT 'retract', 'reaction', v_content, array_agg(id)
          FROM old_rows
        HAVING count(*) > 0;
    ELSE
        -- Old and new rows paired as in notifications_record_changes(): a FULL JOIN
        -- in a MATERIALIZED CTE, so that no session's cached plan is a nested loop.
        WITH pairs AS MATERIALIZED (
            SELECT n.id, n.emoji, n.emoji IS DISTINCT FROM o.emoji AS edited
              FROM old_rows AS o FULL JOIN new_rows AS n USING (id)
        )
        INSERT INTO notification_requests (kind, notification_type, content_type, reaction_ids, texts)
        SELECT 'edit', 'reaction', v_content, array_agg(id), array_agg(emoji::text)
          FROM pairs
         WHERE edited
        HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END;
$$;

-- A trigger with transition tables takes one event, hence three per table.
CREATE OR REPLACE TRIGGER notifications_on_reaction_insert
    AFTER INSERT ON reactions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_reactions('post');
CREATE OR REPLACE TRIGGER notifications_on_reaction_update
    AFTER UPDATE ON reactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_reactions('post');
CREATE OR REPLACE TRIGGER notifications_on_reaction_delete
    AFTER DELETE ON reactions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_reactions('post');

CREATE OR REPLACE TRIGGER notifications_on_reaction_insert
    AFTER INSERT ON blog_post_reactions REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_reactions('blog_post');
CREATE OR REPLACE TRIGGER notifications_on_reaction_update
    AFTER UPDATE ON blog_post_reactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_reactions('blog_post');
CREATE OR REPLACE TRIGGER notifications_on_reaction_delete
    AFTER DELETE ON blog_post_reactions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_reactions('blog_post');

-- ===== db/triggers/comments_notify.sql =====
-- notifications_from_comments()
-- AFTER INSERT / UPDATE / DELETE ON comments and blog_post_comments,
-- FOR EACH STATEMENT, with transition tables. TG_ARGV[0] names the content
-- ('post' or 'blog_post'): one function serves both twin tables.
--   A comment that is (or becomes, on undelete) visible notifies the
--   content's owner with a preview of its body, as a new unread notification.
--   One that stops being visible (soft delete, moderator hide) or is hard
--   DELETEd is retracted: the deleted text must never survive in a
--   notification. An edit of a visible comment asks the sequencer to carry
--   the new preview over.
-- Like notifications_from_reactions(), it only reads and appends.
CREATE OR REPLACE FUNCTION notifications_from_comments()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_content text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO notification_requests (kind, notification_type, content_type, comment_ids)
        SELECT 'retract', 'comment', v_content, array_agg(id)
          FROM old_rows
        HAVING count(*) > 0;
        RETURN NULL;
    END IF;

    IF TG_OP = 'UPDATE' THEN
        -- Old and new rows paired as in notifications_record_changes(): a FULL JOIN
        -- in a MATERIALIZED CTE, so that no session's cached plan is a nested loop.
        -- Retractions first, then edits (disjoint: an edit stays visible).
        WITH pairs AS MATERIALIZED (
            SELECT n.id, n.body,
                   notification_comment_is_visible(o.hidden_by_mod, o.deleted_by_owner,
                                                   o.deleted_by_mod) AS was_visible,
                   notification_comment_is_visible(n.hidden_by_mod, n.deleted_by_owner,
                                                   n.deleted_by_mod) AS is_visible,
                   n.body IS DISTINCT FROM o.body AS edited
              FROM old_rows AS o FULL JOIN new_rows AS n USING (id)
        )
        INSERT INTO notification_requests (kind, notification_type, content_type, comment_ids, texts)
        SELECT 'retract', 'comment', v_content, array_agg(id), NULL::text[]
          FROM pairs
         WHERE was_visible AND NOT is_visible
        HAVING count(*) > 0
        UNION ALL
        SELECT 'edit', 'comment', v_content, array_agg(id), array_agg(body)
          FROM pairs
         WHERE was_visible AND is_visible AND edited
        HAVING count(*) > 0;
    END IF;

    -- New comments, and comments an update made visible again (undelete).
    -- Twin statements: each table names its content column differently. The
    -- usual case, an INSERT of one row, is one statement; see
    -- notification_create_many().
    IF TG_OP = 'INSERT' AND (SELECT count(*) FROM new_rows) = 1 THEN
        IF v_content = 'post' THEN
            WITH created AS (
                INSERT INTO notifications (
                    user_id, notification_type, post_id, actor_id, actor_ip, actor_handle,
                    actor_avatar_url, comment_id, comment_preview, content_title, content_url)
                SELECT content.owner_id, 'comment', c.post_id, c.author_id,
                       -- a signed-in actor's IP is not ours to keep
                       CASE WHEN c.author_id IS NULL THEN c.author_ip::text END,
                       actor.handle, actor.avatar_url, c.id, notification_comment_preview(c.body),
                       content.title, content.url
                  FROM new_rows AS c
                 CROSS JOIN LATERAL notification_content('post', c.post_id) AS content
                 CROSS JOIN LATERAL notification_allowed(content.owner_id, c.author_id, 'comment', 'post')
                 CROSS JOIN LATERAL notification_within_limit(content.owner_id, c.author_id,
                                                              c.author_ip::text, 1)
                 CROSS JOIN LATERAL notification_actor(c.author_id) AS actor
                 WHERE notification_comment_is_visible(c.hidden_by_mod, c.deleted_by_owner, c.deleted_by_mod)
                RETURNING user_id, id
            )
            INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
            SELECT user_id, 'created', ARRAY[id], 1 FROM created;
        ELSE
            WITH created AS (
                INSERT INTO notifications (
                    user_id, notification_type, blog_post_id, actor_id, actor_ip, actor_handle,
                    actor_avatar_url, comment_id, comment_preview, content_title, content_url)
                SELECT content.owner_id, 'comment', c.blog_post_id, c.author_id,
                       -- a signed-in actor's IP is not ours to keep
                       CASE WHEN c.author_id IS NULL THEN c.author_ip::text END,
                       actor.handle, actor.avatar_url, c.id, notification_comment_preview(c.body),
                       content.title, content.url
                  FROM new_rows AS c
                 CROSS JOIN LATERAL notification_content('blog_post', c.blog_post_id) AS content
                 CROSS JOIN LATERAL notification_allowed(content.owner_id, c.author_id, 'comment', 'blog_post')
                 CROSS JOIN LATERAL notification_within_limit(content.owner_id, c.author_id,
                                                              c.author_ip::text, 1)
                 CROSS JOIN LATERAL notification_actor(c.author_id) AS actor
                 WHERE notification_comment_is_visible(c.hidden_by_mod, c.deleted_by_owner, c.deleted_by_mod)
                RETURNING user_id, id
            )
            INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
            SELECT user_id, 'created', ARRAY[id], 1 FROM created;
        END IF;
    ELSIF TG_OP = 'INSERT' AND v_content = 'post' THEN
        PERFORM notification_create_many('comment', v_content, array_agg(post_id),
                    array_agg(author_id), array_agg(author_ip::text), NULL, NULL,
                    array_agg(id), array_agg(body))
           FROM new_rows
          WHERE notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM notification_create_many('comment', v_content, array_agg(blog_post_id),
                    array_agg(author_id), array_agg(author_ip::text), NULL, NULL,
                    array_agg(id), array_agg(body))
           FROM new_rows
          WHERE notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod);
    ELSIF v_content = 'post' THEN
        PERFORM notification_create_many('comment', v_content, array_agg(post_id),
                    array_agg(author_id), array_agg(author_ip::text), NULL, NULL,
                    array_agg(id), array_agg(body))
           FROM (WITH pairs AS MATERIALIZED (  -- paired as above
                     SELECT n.*, notification_comment_is_visible(o.hidden_by_mod,
                                     o.deleted_by_owner, o.deleted_by_mod) AS was_visible
                       FROM old_rows AS o FULL JOIN new_rows AS n USING (id))
                 SELECT * FROM pairs) AS undeleted
          WHERE notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod)
            AND NOT was_visible;
    ELSE
        PERFORM notification_create_many('comment', v_content, array_agg(blog_post_id),
                    array_agg(author_id), array_agg(author_ip::text), NULL, NULL,
                    array_agg(id), array_agg(body))
           FROM (WITH pairs AS MATERIALIZED (  -- paired as above
                     SELECT n.*, notification_comment_is_visible(o.hidden_by_mod,
                                     o.deleted_by_owner, o.deleted_by_mod) AS was_visible
                       FROM old_rows AS o FULL JOIN new_rows AS n USING (id))
                 SELECT * FROM pairs) AS undeleted
          WHERE notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod)
            AND NOT was_visible;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER notifications_on_comment_insert
    AFTER INSERT ON comments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_comments('post');
CREATE OR REPLACE TRIGGER notifications_on_comment_update
    AFTER UPDATE ON comments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_comments('post');
CREATE OR REPLACE TRIGGER notifications_on_comment_delete
    AFTER DELETE ON comments REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_comments('post');

CREATE OR REPLACE TRIGGER notifications_on_comment_insert
    AFTER INSERT ON blog_post_comments REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_comments('blog_post');
CREATE OR REPLACE TRIGGER notifications_on_comment_update
    AFTER UPDATE ON blog_post_comments REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_comments('blog_post');
CREATE OR REPLACE TRIGGER notifications_on_comment_delete
    AFTER DELETE ON blog_post_comments REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_from_comments('blog_post');
