-- Core v2: the host's transaction only reads and appends.
-- Positions, counters, the replay log and the announcement move after the
-- commit, into the sequencer (notification_sequence(), run by the service);
-- retractions and edits become requests the sequencer applies; the foreign
-- keys from our tables to the host's go (their key-share locks on users and
-- posts could deadlock the host's purges and takedowns); every function runs
-- as its owner with a fixed search_path. Installs frozen copies of
-- db/triggers/*.sql as of this migration. See docs/DBA.md.
-- depends: 0002_create_notification_triggers

-- The old trigger path: counters, positions and pg_notify in the host's commit.
DROP TRIGGER notifications_on_reaction ON reactions;
DROP TRIGGER notifications_on_reaction ON blog_post_reactions;
DROP TRIGGER notifications_on_comment ON comments;
DROP TRIGGER notifications_on_comment ON blog_post_comments;
DROP TRIGGER _100_assign_seq ON notifications;
DROP TRIGGER _900_after_update ON notifications;
DROP TRIGGER _900_after_delete ON notifications;
DROP TRIGGER _900_purge_events ON notification_counters;
DROP FUNCTION reactions_notify(), blog_post_reactions_notify(), comments_notify(),
              blog_post_comments_notify(), notifications_assign_seq(), notifications_after_update(),
              notifications_after_delete(), notification_counters_purge(),
              notification_record_event(integer, text, uuid[], bigint),
              notification_create(text, integer, integer, integer, text, integer, text, uuid, text);

-- One sequence orders every notification, change and request, so the
-- sequencer can tell what a request was about ("rows written before me").
-- notifications.seq becomes the list's order (a global, insertion-ordered
-- key); stream positions live in notification_events and notification_counters.
CREATE SEQUENCE notification_order AS bigint;
DO $$ BEGIN
    PERFORM setval('notification_order', coalesce((SELECT max(seq) FROM notifications), 0) + 1, false);
END $$;
ALTER TABLE notifications ALTER COLUMN seq SET DEFAULT nextval('notification_order');

-- No foreign key from our tables into the host's: each check takes a key-share
-- lock on a host row inside the host's transaction (the owner's users row on
-- every reaction), in an order that deadlocks against purges and takedowns.
-- The host's own cascades reach reactions and comments, whose triggers retract.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_user_id_fkey,
    DROP CONSTRAINT notifications_post_id_fkey,
    DROP CONSTRAINT notifications_blog_post_id_fkey,
    DROP CONSTRAINT notifications_actor_id_fkey;
ALTER TABLE notification_counters DROP CONSTRAINT notification_counters_user_id_fkey,
    -- A failed CHECK would stop the sequencer, and every stream with it;
    -- `notifications check` reports any drift instead.
    DROP CONSTRAINT notification_counters_unread_count_check;
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_user_id_fkey;
-- They served those cascades only; every insert paid for them.
DROP INDEX notifications_post, notifications_blog_post, notifications_actor;

-- Changes to notification rows, appended by notifications_record_changes()
-- in the writer's transaction; the sequencer turns them into positions and
-- deletes them. The unread badge is the counter plus these pending deltas.
-- Kept narrow: it is written by every host transaction that notifies.
CREATE TABLE notification_changes (
    id               bigint PRIMARY KEY DEFAULT nextval('notification_order'),
    user_id          integer NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('created', 'updated', 'deleted', 'read', 'unread')),
    notification_ids uuid[] NOT NULL,
    unread_delta     integer NOT NULL,
    -- set when the sequencer wrote it applying a request: numbered in that request's place
    request_id       bigint
);
-- No other index: every byte here is WAL in the host's commit, and the table only
-- ever holds the last few milliseconds of changes (readers scan it whole).
-- Emptied every few milliseconds: VACUUM must never take the ACCESS EXCLUSIVE lock
-- that truncating its empty tail needs, which would stop the host's inserts.
ALTER TABLE notification_changes SET (vacuum_truncate = false);

-- What host transactions asked for that needs a notification row they must
-- not touch: retract (un-react, comment deleted or hidden), edit (emoji,
-- comment body), truncate. Applied by the sequencer after the commit.
CREATE TABLE notification_requests (
    id                bigint PRIMARY KEY DEFAULT nextval('notification_order'),
    kind              text NOT NULL CHECK (kind IN ('retract', 'edit', 'truncate')),
    notification_type text CHECK (notification_type IN ('reaction', 'comment')),
    content_type      text NOT NULL CHECK (content_type IN ('post', 'blog_post')),
    reaction_ids      integer[],
    comment_ids       uuid[],
    texts             text[],
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE notification_requests SET (vacuum_truncate = false);

-- ===== db/triggers/notification_rules.sql =====
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
        -- An aggregate, not EXISTS: EXISTS gets a fast-start nested loop over the
        -- two transition tables, quadratic when (as always) nothing matches.
        IF (SELECT bool_or(o.user_id <> n.user_id OR o.seq <> n.seq)
              FROM old_rows o JOIN new_rows n USING (id)) THEN
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
                  FROM old_rows o JOIN new_rows n USING (id)
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

-- Rows inserted from inside a trigger come from notification_create_one() or
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

-- ===== db/triggers/host_truncate_notify.sql =====
-- notifications_on_host_truncate()
-- AFTER TRUNCATE ON the host's tables, FOR EACH STATEMENT.
-- TG_ARGV[0] is the notification type the table feeds ('reaction',
-- 'comment', or 'any' for posts and blog posts), TG_ARGV[1] the content
-- ('post', 'blog_post', or 'all' for users).
-- TRUNCATE fires no DELETE trigger, so without this the notifications of
-- truncated rows would outlive them. Truncating users ends every stream:
-- everything of ours goes with them in the host's own transaction (TRUNCATE
-- already locks the host's tables exclusively, and a rollback restores all).
-- Any other table asks the sequencer to retract what it fed.
CREATE OR REPLACE FUNCTION notifications_on_host_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
BEGIN
    IF TG_ARGV[1] = 'all' THEN
        BEGIN
            TRUNCATE notifications, notification_changes, notification_requests,
                     notification_counters, notification_events, notification_rate_limits,
                     notification_preferences;
        EXCEPTION WHEN object_in_use THEN
            -- The host's own statement truncated some of ours too (TRUNCATE users,
            -- notifications, ... CASCADE): TRUNCATE may not touch them again here.
            DELETE FROM notifications;
            DELETE FROM notification_changes;
            DELETE FROM notification_requests;
            DELETE FROM notification_counters;
            DELETE FROM notification_events;
            DELETE FROM notification_rate_limits;
            DELETE FROM notification_preferences;
        END;
    ELSE
        INSERT INTO notification_requests (kind, notification_type, content_type)
        VALUES ('truncate', nullif(TG_ARGV[0], 'any'), TG_ARGV[1]);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('any', 'all');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('any', 'post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON blog_posts
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('any', 'blog_post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON reactions
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('reaction', 'post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON blog_post_reactions
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('reaction', 'blog_post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON comments
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('comment', 'post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON blog_post_comments
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('comment', 'blog_post');

-- ===== db/triggers/notification_sequence.sql =====
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
--   4. announces the users whose stream moved with one pg_notify per 500
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
