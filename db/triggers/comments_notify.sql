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
                 CROSS JOIN LATERAL notification_unmuted(content.owner_id, 'post', c.post_id, c.id)
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
                 CROSS JOIN LATERAL notification_unmuted(content.owner_id, 'blog_post', c.blog_post_id, c.id)
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
