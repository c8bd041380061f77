-- Rolls back 0004: 0003's trigger functions (restored verbatim below) and
-- the CHECK constraints return. A row that breaks one stops the rollback
-- (`notifications check` lists them).

ALTER TABLE notifications
    ADD CONSTRAINT notifications_notification_type_check
        CHECK (notification_type IN ('reaction', 'comment')),
    ADD CONSTRAINT notifications_one_content CHECK ((post_id IS NULL) <> (blog_post_id IS NULL)),
    ADD CONSTRAINT notifications_source CHECK (
        (notification_type = 'reaction' AND reaction_id IS NOT NULL AND comment_id IS NULL)
        OR (notification_type = 'comment' AND comment_id IS NOT NULL AND reaction_id IS NULL));
ALTER TABLE notification_changes ADD CONSTRAINT notification_changes_kind_check
    CHECK (kind IN ('created', 'updated', 'deleted', 'read', 'unread'));

-- ===== db/triggers/notification_rules.sql (as of 0003) =====
-- The rules that decide whether, and what, a host write notifies.
-- Each rule lives here once: the host-table triggers (new notifications)
-- and the sequencer (edits) both ask these functions.
-- None of them may raise on the host's data, take a lock, or write a row
-- that another transaction also writes: they run inside the host's own
-- transaction and only read and append.

-- notification_comment_preview(body)
-- First 100 characters of a comment, plus '...' when it is longer.
CREATE OR REPLACE FUNCTION notification_comment_preview(p_body text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN char_length(p_body) > 100 THEN left(p_body, 100) || '...' ELSE p_body END
$$;

-- notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod)
-- A comment notifies only while nobody has deleted or hidden it.
CREATE OR REPLACE FUNCTION notification_comment_is_visible(
    p_hidden_by_mod boolean, p_deleted_by_owner boolean, p_deleted_by_mod boolean
)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT NOT (p_hidden_by_mod OR p_deleted_by_owner OR p_deleted_by_mod)
$$;

-- notification_actor_key(actor_id, actor_ip)
-- Who the hourly flood limit counts: 'user:<id>', or 'ip:<address>' for an
-- anonymous actor.
CREATE OR REPLACE FUNCTION notification_actor_key(p_actor_id integer, p_actor_ip text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN p_actor_id IS NOT NULL THEN 'user:' || p_actor_id
                ELSE 'ip:' || coalesce(p_actor_ip, '') END
$$;

-- notification_allows(owner_id, actor_id, notification_type, content_type)
-- True when the owner wants to hear about this actor's action: the kill
-- switch is on (notification_settings.enabled), the actor is not the owner,
-- the owner has not turned this kind off (notification_preferences; no row =
-- all on), and neither user blocks the other (user_blocks). The hourly flood
-- limit is applied by the callers, which count in bulk.
CREATE OR REPLACE FUNCTION notification_allows(
    p_owner_id integer, p_actor_id integer, p_notification_type text, p_content_type text
)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce((SELECT enabled FROM notification_settings), true)
       AND p_owner_id IS NOT NULL
       AND (p_actor_id IS NULL OR p_actor_id <> p_owner_id)
       AND coalesce((SELECT CASE
                         WHEN p_notification_type = 'reaction' AND p_content_type = 'post' THEN reactions_on_posts
                         WHEN p_notification_type = 'comment' AND p_content_type = 'post' THEN comments_on_posts
                         WHEN p_notification_type = 'reaction' THEN reactions_on_blog_posts
                         ELSE comments_on_blog_posts
                     END
                       FROM notification_preferences WHERE user_id = p_owner_id), true)
       AND (p_actor_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM user_blocks
                WHERE (blocker_id = p_owner_id AND blocked_id = p_actor_id)
                   OR (blocker_id = p_actor_id AND blocked_id = p_owner_id)))
$$;

-- notification_may_edit(owner_id, actor_id, actor_ip, notification_type, content_type, limit)
-- Whether the sequencer may carry an edit of the actor's reaction or comment
-- into the owner's notification (and so announce it): notification_allows()
-- still holds and the actor is below this hour's limit for the owner.
CREATE OR REPLACE FUNCTION notification_may_edit(
    p_owner_id integer, p_actor_id integer, p_actor_ip text, p_notification_type text,
    p_content_type text, p_limit integer
)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT notification_allows(p_owner_id, p_actor_id, p_notification_type, p_content_type)
       AND (p_limit IS NULL OR coalesce((
               SELECT notifications FROM notification_rate_limits
                WHERE user_id = p_owner_id
                  AND actor_key = notification_actor_key(p_actor_id, p_actor_ip)
                  AND hour = date_trunc('hour', now())), 0) < p_limit)
$$;

-- notification_create_many(type, content_type, content_ids[], actor_ids[], actor_ips[],
--                          reaction_ids[], emojis[], comment_ids[], bodies[])
-- Writes one notification per element (the arrays run in parallel) for the
-- owner of the post or blog post, where notification_allows() says so and
-- the actor stays within notification_settings.max_per_actor_per_hour for
-- that owner: the committed count of this hour (notification_rate_limits,
-- kept by the sequencer) plus the earlier rows of this same statement.
-- Copies the actor's handle ('Anonymous', with the IP, when there is no
-- user), the content's title and URL, so reads need no join with host tables.
-- It appends the new rows' change for the sequencer in the same statement
-- (see the WHEN of _900_record_inserts).
-- One statement for the whole batch: a COPY of 100,000 reactions is one call.
-- A statement of one row goes to notification_create_one() instead.
CREATE OR REPLACE FUNCTION notification_create_many(
    p_notification_type text,
    p_content_type text,
    p_content_ids integer[],
    p_actor_ids integer[],
    p_actor_ips text[],
    p_reaction_ids integer[],
    p_emojis text[],
    p_comment_ids uuid[],
    p_bodies text[]
)
RETURNS void
LANGUAGE plpgsql
-- Called only by the host-table triggers, whose search_path is fixed; the
-- generic plan because re-planning for every host statement costs more than
-- the query itself.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_limit integer := (SELECT max_per_actor_per_hour FROM notification_settings);
BEGIN
    WITH created AS (
    INSERT INTO notifications (
        user_id, notification_type, post_id, blog_post_id, actor_id, actor_ip,
        actor_handle, actor_avatar_url, reaction_id, emoji, comment_id,
        comment_preview, content_title, content_url)
    SELECT w.owner_id, p_notification_type,
           CASE WHEN p_content_type = 'post' THEN w.content_id END,
           CASE WHEN p_content_type = 'blog_post' THEN w.content_id END,
           w.actor_id,
           -- a signed-in actor's IP is not ours to keep
           CASE WHEN w.actor_id IS NULL THEN w.actor_ip END,
           coalesce(actor.handle, 'Anonymous'), actor.avatar_url, w.reaction_id, w.emoji,
           w.comment_id, notification_comment_preview(w.body), w.title, w.url
      FROM (SELECT src.*, content.owner_id, content.title, content.url,
                   notification_actor_key(src.actor_id, src.actor_ip) AS actor_key,
                   row_number() OVER (PARTITION BY content.owner_id,
                                                   notification_actor_key(src.actor_id, src.actor_ip)
                                      ORDER BY src.ord) AS nth
              FROM unnest(p_content_ids, p_actor_ids, p_actor_ips, p_reaction_ids, p_emojis,
                          p_comment_ids, p_bodies)
                   WITH ORDINALITY AS src (content_id, actor_id, actor_ip, reaction_id, emoji,
                                           comment_id, body, ord)
              JOIN LATERAL (
                    SELECT owner_id, title,
                           coalesce(art_url, '/posts/' || coalesce(public_sqid, id::text)) AS url
                      FROM posts WHERE p_content_type = 'post' AND id = src.content_id
                    UNION ALL
                    SELECT owner_id, title, '/blog/' || coalesce(public_sqid, id::text)
                      FROM blog_posts WHERE p_content_type = 'blog_post' AND id = src.content_id
                   ) AS content ON true
             WHERE notification_allows(content.owner_id, src.actor_id, p_notification_type,
                                       p_content_type)) AS w
      LEFT JOIN users AS actor ON actor.id = w.actor_id
      LEFT JOIN notification_rate_limits AS bucket
             ON v_limit IS NOT NULL AND bucket.user_id = w.owner_id
            AND bucket.actor_key = w.actor_key AND bucket.hour = date_trunc('hour', now())
     WHERE v_limit IS NULL OR coalesce(bucket.notifications, 0) + w.nth <= v_limit
     ORDER BY w.ord
    RETURNING user_id, id, seq
    )
    INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
    SELECT user_id, 'created', array_agg(id ORDER BY seq), count(*)
      FROM created
     GROUP BY user_id;
END;
$$;

-- notification_create_one(type, content_type, content_id, actor_id, actor_ip,
--                         reaction_id, emoji, comment_id, body)
-- notification_create_many() for a statement of one row, the host's usual
-- case: the same rules (notification_allows()) and the same limit (the
-- committed count of this hour), in a query a tenth the size, because on a
-- one-row statement setting up the bulk query costs more than its work.
CREATE OR REPLACE FUNCTION notification_create_one(
    p_notification_type text,
    p_content_type text,
    p_content_id integer,
    p_actor_id integer,
    p_actor_ip text,
    p_reaction_id integer,
    p_emoji text,
    p_comment_id uuid,
    p_body text
)
RETURNS void
LANGUAGE plpgsql
-- Called only by the host-table triggers, whose search_path is fixed; the
-- generic plan because re-planning for every host statement costs more than
-- the query itself.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_owner_id integer;
    v_title text;
    v_url text;
BEGIN
    IF p_content_type = 'post' THEN
        SELECT owner_id, title, coalesce(art_url, '/posts/' || coalesce(public_sqid, id::text))
          INTO v_owner_id, v_title, v_url FROM posts WHERE id = p_content_id;
    ELSE
        SELECT owner_id, title, '/blog/' || coalesce(public_sqid, id::text)
          INTO v_owner_id, v_title, v_url FROM blog_posts WHERE id = p_content_id;
    END IF;
    WITH created AS (
        INSERT INTO notifications (
            user_id, notification_type, post_id, blog_post_id, actor_id, actor_ip,
            actor_handle, actor_avatar_url, reaction_id, emoji, comment_id,
            comment_preview, content_title, content_url)
        SELECT v_owner_id, p_notification_type,
               CASE WHEN p_content_type = 'post' THEN p_content_id END,
               CASE WHEN p_content_type = 'blog_post' THEN p_content_id END,
               p_actor_id,
               -- a signed-in actor's IP is not ours to keep
               CASE WHEN p_actor_id IS NULL THEN p_actor_ip END,
               coalesce(actor.handle, 'Anonymous'), actor.avatar_url, p_reaction_id, p_emoji,
               p_comment_id, notification_comment_preview(p_body), v_title, v_url
          FROM notification_settings AS settings
          LEFT JOIN users AS actor ON actor.id = p_actor_id
          LEFT JOIN notification_rate_limits AS bucket
                 ON bucket.user_id = v_owner_id
                AND bucket.actor_key = notification_actor_key(p_actor_id, p_actor_ip)
                AND bucket.hour = date_trunc('hour', now())
         WHERE notification_allows(v_owner_id, p_actor_id, p_notification_type, p_content_type)
           AND (settings.max_per_actor_per_hour IS NULL
                OR coalesce(bucket.notifications, 0) < settings.max_per_actor_per_hour)
        RETURNING user_id, id
    )
    INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
    SELECT user_id, 'created', ARRAY[id], 1 FROM created;
END;
$$;

-- Only the triggers (running as these functions' owner) call them.
REVOKE EXECUTE ON FUNCTION notification_create_many(text, text, integer[], integer[], text[], integer[],
                                                    text[], uuid[], text[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION notification_create_one(text, text, integer, integer, text, integer, text,
                                                   uuid, text) FROM PUBLIC;

-- ===== db/triggers/reactions_notify.sql (as of 0003) =====
-- notifications_from_reactions()
-- AFTER INSERT / UPDATE / DELETE ON reactions and blog_post_reactions,
-- FOR EACH STATEMENT, with transition tables. TG_ARGV[0] names the content
-- ('post' or 'blog_post'): one function serves both twin tables.
--   INSERT  notifies each post's owner (notification_create_one / _many);
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
        IF (SELECT count(*) FROM new_rows) = 1 THEN  -- the usual case: a cheaper query
            IF v_content = 'post' THEN
                PERFORM notification_create_one('reaction', v_content, post_id, user_id,
                            user_ip::text, id, emoji::text, NULL, NULL)
                   FROM new_rows;
            ELSE
                PERFORM notification_create_one('reaction', v_content, blog_post_id, user_id,
                            user_ip::text, id, emoji::text, NULL, NULL)
                   FROM new_rows;
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
        INSERT INTO notification_requests (kind, notification_type, content_type, reaction_ids, texts)
        SELECT 'edit', 'reaction', v_content, array_agg(n.id), array_agg(n.emoji::text)
          FROM old_rows AS o JOIN new_rows AS n USING (id)
         WHERE n.emoji IS DISTINCT FROM o.emoji
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

-- ===== db/triggers/comments_notify.sql (as of 0003) =====
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
        INSERT INTO notification_requests (kind, notification_type, content_type, comment_ids)
        SELECT 'retract', 'comment', v_content, array_agg(o.id)
          FROM old_rows AS o JOIN new_rows AS n USING (id)
         WHERE notification_comment_is_visible(o.hidden_by_mod, o.deleted_by_owner, o.deleted_by_mod)
           AND NOT notification_comment_is_visible(n.hidden_by_mod, n.deleted_by_owner, n.deleted_by_mod)
        HAVING count(*) > 0;

        INSERT INTO notification_requests (kind, notification_type, content_type, comment_ids, texts)
        SELECT 'edit', 'comment', v_content, array_agg(n.id), array_agg(n.body)
          FROM old_rows AS o JOIN new_rows AS n USING (id)
         WHERE notification_comment_is_visible(o.hidden_by_mod, o.deleted_by_owner, o.deleted_by_mod)
           AND notification_comment_is_visible(n.hidden_by_mod, n.deleted_by_owner, n.deleted_by_mod)
           AND n.body IS DISTINCT FROM o.body
        HAVING count(*) > 0;
    END IF;

    -- New comments, and comments an update made visible again (undelete).
    -- Twin statements: each table names its content column differently.
    IF TG_OP = 'INSERT' AND (SELECT count(*) FROM new_rows) = 1 THEN  -- the usual case
        IF v_content = 'post' THEN
            PERFORM notification_create_one('comment', v_content, post_id, author_id,
                        author_ip::text, NULL, NULL, id, body)
               FROM new_rows
              WHERE notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod);
        ELSE
            PERFORM notification_create_one('comment', v_content, blog_post_id, author_id,
                        author_ip::text, NULL, NULL, id, body)
               FROM new_rows
              WHERE notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod);
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
        PERFORM notification_create_many('comment', v_content, array_agg(n.post_id),
                    array_agg(n.author_id), array_agg(n.author_ip::text), NULL, NULL,
                    array_agg(n.id), array_agg(n.body))
           FROM old_rows AS o JOIN new_rows AS n USING (id)
          WHERE notification_comment_is_visible(n.hidden_by_mod, n.deleted_by_owner, n.deleted_by_mod)
            AND NOT notification_comment_is_visible(o.hidden_by_mod, o.deleted_by_owner, o.deleted_by_mod);
    ELSE
        PERFORM notification_create_many('comment', v_content, array_agg(n.blog_post_id),
                    array_agg(n.author_id), array_agg(n.author_ip::text), NULL, NULL,
                    array_agg(n.id), array_agg(n.body))
           FROM old_rows AS o JOIN new_rows AS n USING (id)
          WHERE notification_comment_is_visible(n.hidden_by_mod, n.deleted_by_owner, n.deleted_by_mod)
            AND NOT notification_comment_is_visible(o.hidden_by_mod, o.deleted_by_owner, o.deleted_by_mod);
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

DROP FUNCTION notification_within_limit(integer, integer, text, bigint);
DROP FUNCTION notification_content(text, integer);
DROP FUNCTION notification_actor(integer);
-- notification_allows() no longer reads it.
DROP FUNCTION notification_allowed(integer, integer, text, text);
