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
                     CROSS JOIN LATERAL notification_unmuted(content.owner_id, 'post', r.post_id, NULL)
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
                     CROSS JOIN LATERAL notification_unmuted(content.owner_id, 'blog_post', r.blog_post_id, NULL)
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
