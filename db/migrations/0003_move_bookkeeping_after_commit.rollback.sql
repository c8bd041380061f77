-- Rolls back 0003: the bookkeeping returns into the host's transaction
-- (0002's functions and triggers, restored verbatim below).
-- Pending requests and changes are applied first, so nothing committed is
-- lost; the replay log is emptied (connected clients get a resync), counters
-- are recomputed from the rows, and rows whose host row is gone are deleted
-- so that the foreign keys can return.

DO $$ BEGIN
    PERFORM notification_sequence(2147483647);
END $$;

DROP TRIGGER notifications_on_reaction_insert ON reactions;
DROP TRIGGER notifications_on_reaction_update ON reactions;
DROP TRIGGER notifications_on_reaction_delete ON reactions;
DROP TRIGGER notifications_on_reaction_insert ON blog_post_reactions;
DROP TRIGGER notifications_on_reaction_update ON blog_post_reactions;
DROP TRIGGER notifications_on_reaction_delete ON blog_post_reactions;
DROP TRIGGER notifications_on_comment_insert ON comments;
DROP TRIGGER notifications_on_comment_update ON comments;
DROP TRIGGER notifications_on_comment_delete ON comments;
DROP TRIGGER notifications_on_comment_insert ON blog_post_comments;
DROP TRIGGER notifications_on_comment_update ON blog_post_comments;
DROP TRIGGER notifications_on_comment_delete ON blog_post_comments;
DROP TRIGGER notifications_on_truncate ON users;
DROP TRIGGER notifications_on_truncate ON posts;
DROP TRIGGER notifications_on_truncate ON blog_posts;
DROP TRIGGER notifications_on_truncate ON reactions;
DROP TRIGGER notifications_on_truncate ON blog_post_reactions;
DROP TRIGGER notifications_on_truncate ON comments;
DROP TRIGGER notifications_on_truncate ON blog_post_comments;
DROP TRIGGER _900_record_inserts ON notifications;
DROP TRIGGER _900_record_updates ON notifications;
DROP TRIGGER _900_record_deletes ON notifications;
DROP FUNCTION notifications_from_reactions(), notifications_from_comments(),
              notifications_on_host_truncate(), notifications_record_changes(),
              notification_sequence(integer),
              notification_create_many(text, text, integer[], integer[], text[], integer[], text[],
                                       uuid[], text[]),
              notification_create_one(text, text, integer, integer, text, integer, text, uuid, text),
              notification_may_edit(integer, integer, text, text, text, integer),
              notification_allows(integer, integer, text, text),
              notification_actor_key(integer, text);

DELETE FROM notifications AS n
 WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = n.user_id)
    OR (n.actor_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = n.actor_id))
    OR (n.post_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM posts AS p WHERE p.id = n.post_id))
    OR (n.blog_post_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM blog_posts AS b WHERE b.id = n.blog_post_id));
DELETE FROM notification_preferences AS p WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = p.user_id);
TRUNCATE notification_events;
DELETE FROM notification_counters AS c WHERE NOT EXISTS (SELECT 1 FROM users AS u WHERE u.id = c.user_id);
UPDATE notification_counters SET unread_count = 0;
INSERT INTO notification_counters AS c (user_id, unread_count, last_seq)
SELECT user_id, count(*) FILTER (WHERE NOT is_read), max(seq) FROM notifications GROUP BY user_id
ON CONFLICT (user_id) DO UPDATE
   SET unread_count = excluded.unread_count, last_seq = greatest(c.last_seq, excluded.last_seq);

DROP TABLE notification_changes, notification_requests;
ALTER TABLE notifications ALTER COLUMN seq SET DEFAULT 0;
DROP SEQUENCE notification_order;

CREATE INDEX notifications_post ON notifications (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX notifications_blog_post ON notifications (blog_post_id) WHERE blog_post_id IS NOT NULL;
CREATE INDEX notifications_actor ON notifications (actor_id) WHERE actor_id IS NOT NULL;
ALTER TABLE notifications
    ADD CONSTRAINT notifications_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    ADD CONSTRAINT notifications_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    ADD CONSTRAINT notifications_blog_post_id_fkey
        FOREIGN KEY (blog_post_id) REFERENCES blog_posts (id) ON DELETE CASCADE,
    ADD CONSTRAINT notifications_actor_id_fkey FOREIGN KEY (actor_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE notification_counters
    ADD CONSTRAINT notification_counters_unread_count_check CHECK (unread_count >= 0),
    ADD CONSTRAINT notification_counters_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE notification_preferences
    ADD CONSTRAINT notification_preferences_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

-- ===== 0002's functions and triggers, verbatim =====
-- The rules that decide whether, and what, a host write notifies.
-- Each rule lives here once; the host-table triggers only call these.
-- None of these functions may raise on bad host data: a failure here would
-- abort the host's own write.

-- notification_comment_preview(body)
-- First 100 characters of a comment, plus '...' when it is longer.
CREATE OR REPLACE FUNCTION notification_comment_preview(p_body text)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    IF char_length(p_body) > 100 THEN
        RETURN left(p_body, 100) || '...';
    END IF;
    RETURN p_body;
END;
$$;

-- notification_comment_is_visible(hidden_by_mod, deleted_by_owner, deleted_by_mod)
-- A comment notifies only while nobody has deleted or hidden it.
CREATE OR REPLACE FUNCTION notification_comment_is_visible(
    p_hidden_by_mod boolean, p_deleted_by_owner boolean, p_deleted_by_mod boolean
)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
AS $$
BEGIN
    RETURN NOT (p_hidden_by_mod OR p_deleted_by_owner OR p_deleted_by_mod);
END;
$$;

-- notification_create(...)
-- Writes one notification for the owner of a post or blog post, unless:
--   * the kill switch is off (notification_settings.enabled),
--   * the actor is the owner,
--   * the owner turned this kind off (notification_preferences; no row = all on),
--   * either user blocks the other (user_blocks),
--   * the actor (a user, or an anonymous IP) already caused this owner
--     notification_settings.max_per_actor_per_hour notifications this hour.
-- Copies the actor's handle ('Anonymous' with the IP when there is no user),
-- the content's title and URL, so the list needs no join with host tables.
-- The lookups and the first four rules are one query: this runs inside every
-- host write, so each statement saved is latency the host does not pay.
CREATE OR REPLACE FUNCTION notification_create(
    p_notification_type text,
    p_post_id integer,
    p_blog_post_id integer,
    p_actor_id integer,
    p_actor_ip text,
    p_reaction_id integer,
    p_emoji text,
    p_comment_id uuid,
    p_comment_body text
)
RETURNS void
LANGUAGE plpgsql
-- Plan the lookup once per session: left to itself the plan cache keeps
-- re-planning this five-table query on every call (~5x its execution time).
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_owner_id integer;
    v_title text;
    v_url text;
    v_handle text;
    v_avatar text;
    v_limit integer;
    v_wanted boolean;
    v_count integer;
BEGIN
    SELECT content.owner_id, content.title, content.url, actor.handle, actor.avatar_url,
           settings.max_per_actor_per_hour,
           settings.enabled
           AND (p_actor_id IS NULL OR p_actor_id <> content.owner_id)
           AND coalesce(CASE
                   WHEN p_notification_type = 'reaction' AND p_post_id IS NOT NULL THEN prefs.reactions_on_posts
                   WHEN p_notification_type = 'comment' AND p_post_id IS NOT NULL THEN prefs.comments_on_posts
                   WHEN p_notification_type = 'reaction' THEN prefs.reactions_on_blog_posts
                   ELSE prefs.comments_on_blog_posts
               END, true)
           AND NOT EXISTS (
               SELECT 1 FROM user_blocks
                WHERE (blocker_id = content.owner_id AND blocked_id = p_actor_id)
                   OR (blocker_id = p_actor_id AND blocked_id = content.owner_id))
      INTO v_owner_id, v_title, v_url, v_handle, v_avatar, v_limit, v_wanted
      FROM (SELECT owner_id, title, coalesce(art_url, '/posts/' || coalesce(public_sqid, id::text)) AS url
              FROM posts WHERE id = p_post_id
            UNION ALL
            SELECT owner_id, title, '/blog/' || coalesce(public_sqid, id::text)
              FROM blog_posts WHERE id = p_blog_post_id) AS content
     CROSS JOIN notification_settings AS settings
      LEFT JOIN notification_preferences AS prefs ON prefs.user_id = content.owner_id
      LEFT JOIN users AS actor ON actor.id = p_actor_id;
    IF NOT coalesce(v_wanted, false) THEN
        RETURN;
    END IF;

    IF v_limit IS NOT NULL THEN
        -- Hourly buckets per (owner, actor); past the limit the host's write
        -- still succeeds, it just notifies nobody. Retention drops old hours.
        INSERT INTO notification_rate_limits AS r (user_id, actor_key, hour, notifications)
        VALUES (v_owner_id,
                CASE WHEN p_actor_id IS NOT NULL THEN 'user:' || p_actor_id
                     ELSE 'ip:' || coalesce(p_actor_ip, '') END,
                date_trunc('hour', now()), 1)
        ON CONFLICT (user_id, actor_key, hour) DO UPDATE
           SET notifications = r.notifications + 1
        RETURNING notifications INTO v_count;
        IF v_count > v_limit THEN
            RETURN;
        END IF;
    END IF;

    INSERT INTO notifications (
        user_id, notification_type, post_id, blog_post_id, actor_id, actor_ip,
        actor_handle, actor_avatar_url, reaction_id, emoji, comment_id,
        comment_preview, content_title, content_url)
    VALUES (
        v_owner_id, p_notification_type, p_post_id, p_blog_post_id, p_actor_id,
        -- a signed-in actor's IP is not ours to keep
        CASE WHEN p_actor_id IS NULL THEN p_actor_ip END,
        coalesce(v_handle, 'Anonymous'), v_avatar, p_reaction_id, p_emoji, p_comment_id,
        notification_comment_preview(p_comment_body), v_title, v_url);
END;
$$;

-- notification_record_event(user_id, kind, notification_ids, unread_delta)
-- The one place that moves a user's counter: adds unread_delta to the unread
-- count, takes the next stream position, appends the change to
-- notification_events and announces it. Returns the position, or NULL when
-- the user no longer exists (a cascade from a purged account).
-- Callers must take users in ascending id order to rule out deadlocks.
--
-- The announcement is pg_notify('notifications_v1', '<user id>') unless
-- notification_settings.announce is off. The payload is only the id, so it
-- is tiny whatever the data, and PostgreSQL folds identical payloads: one
-- NOTIFY per recipient per transaction. Delivered at commit only; a rollback
-- announces nothing.
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
    v_seq bigint;
    v_unread bigint;
    v_announce boolean;
BEGIN
    -- One statement for the usual case: move the counter, log the change.
    WITH moved AS (
        UPDATE notification_counters
           SET unread_count = unread_count + p_unread_delta,
               last_seq = last_seq + 1
         WHERE user_id = p_user_id
        RETURNING last_seq, unread_count
    ), logged AS (
        INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count)
        SELECT p_user_id, last_seq, p_kind, p_notification_ids, unread_count FROM moved
        RETURNING seq
    )
    SELECT logged.seq, settings.announce INTO v_seq, v_announce
      FROM logged CROSS JOIN notification_settings AS settings;

    IF v_seq IS NULL THEN
        IF p_kind <> 'created' THEN
            RETURN NULL;
        END IF;
        -- First notification ever for this user: create the counter row
        -- (a concurrent first insert is serialised by the conflict).
        INSERT INTO notification_counters AS c (user_id, unread_count, last_seq)
        VALUES (p_user_id, p_unread_delta, 1)
        ON CONFLICT (user_id) DO UPDATE
           SET unread_count = c.unread_count + excluded.unread_count,
               last_seq = c.last_seq + 1
        RETURNING last_seq, unread_count INTO v_seq, v_unread;
        INSERT INTO notification_events (user_id, seq, kind, notification_ids, unread_count)
        VALUES (p_user_id, v_seq, p_kind, p_notification_ids, v_unread);
        SELECT announce INTO v_announce FROM notification_settings;
    END IF;

    IF v_announce THEN
        PERFORM pg_notify('notifications_v1', p_user_id::text);
    END IF;
    RETURN v_seq;
END;
$$;

-- notification_counters_purge()
-- AFTER DELETE ON notification_counters, FOR EACH ROW.
-- A counter row goes only when its user is purged (FK cascade); the user's
-- replay log goes with it. A trigger rather than a foreign key because a
-- foreign key check would cost every event insert a lookup.
CREATE OR REPLACE FUNCTION notification_counters_purge()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM notification_events WHERE user_id = OLD.user_id;
    RETURN NULL;
END;
$$;

-- notifications_assign_seq()
-- BEFORE INSERT ON notifications, FOR EACH ROW.
-- Counts the new row into its recipient's unread badge, gives it the next
-- position of the user's stream and records the 'created' event. Every
-- insert, by a host trigger or by hand, goes through here, so the counter
-- cannot drift.
CREATE OR REPLACE FUNCTION notifications_assign_seq()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.is_read AND NEW.read_at IS NULL THEN
        NEW.read_at := now();
    END IF;
    NEW.seq := notification_record_event(
        NEW.user_id, 'created', ARRAY[NEW.id], CASE WHEN NEW.is_read THEN 0 ELSE 1 END);
    RETURN NEW;
END;
$$;

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

-- reactions_notify()
-- AFTER INSERT, UPDATE OF emoji, DELETE ON reactions, FOR EACH ROW.
-- INSERT notifies the post's owner; DELETE (un-react) retracts that
-- notification; a changed emoji follows into the notification.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION reactions_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM notification_create('reaction', NEW.post_id, NULL, NEW.user_id, NEW.user_ip,
                                    NEW.id, NEW.emoji, NULL, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM notifications
         WHERE reaction_id = OLD.id AND post_id IS NOT NULL AND notification_type = 'reaction';
    ELSIF NEW.emoji IS DISTINCT FROM OLD.emoji THEN
        UPDATE notifications SET emoji = NEW.emoji
         WHERE reaction_id = NEW.id AND post_id IS NOT NULL AND notification_type = 'reaction';
    END IF;
    RETURN NULL;
END;
$$;

-- blog_post_reactions_notify()
-- AFTER INSERT, UPDATE OF emoji, DELETE ON blog_post_reactions, FOR EACH ROW.
-- INSERT notifies the blog post's owner; DELETE (un-react) retracts that
-- notification; a changed emoji follows into the notification.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION blog_post_reactions_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM notification_create('reaction', NULL, NEW.blog_post_id, NEW.user_id, NEW.user_ip,
                                    NEW.id, NEW.emoji, NULL, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM notifications
         WHERE reaction_id = OLD.id AND blog_post_id IS NOT NULL AND notification_type = 'reaction';
    ELSIF NEW.emoji IS DISTINCT FROM OLD.emoji THEN
        UPDATE notifications SET emoji = NEW.emoji
         WHERE reaction_id = NEW.id AND blog_post_id IS NOT NULL AND notification_type = 'reaction';
    END IF;
    RETURN NULL;
END;
$$;

-- comments_notify()
-- AFTER INSERT, UPDATE, DELETE ON comments, FOR EACH ROW.
-- A visible comment notifies the post's owner with a preview of its body.
-- Soft delete or moderator hide RETRACTS the notification (the deleted text
-- must never survive in it); undelete writes it again, as a new unread
-- notification, if the rules still allow it. An edit updates the preview.
-- A hard DELETE of the comment retracts it too.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION comments_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    was_visible boolean;
    is_visible boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM notifications WHERE comment_id = OLD.id AND post_id IS NOT NULL;
        RETURN NULL;
    END IF;

    is_visible := notification_comment_is_visible(NEW.hidden_by_mod, NEW.deleted_by_owner, NEW.deleted_by_mod);
    IF TG_OP = 'INSERT' THEN
        was_visible := false;
    ELSE
        was_visible := notification_comment_is_visible(OLD.hidden_by_mod, OLD.deleted_by_owner, OLD.deleted_by_mod);
    END IF;

    IF is_visible AND NOT was_visible THEN
        PERFORM notification_create('comment', NEW.post_id, NULL, NEW.author_id, NEW.author_ip,
                                    NULL, NULL, NEW.id, NEW.body);
    ELSIF was_visible AND NOT is_visible THEN
        DELETE FROM notifications WHERE comment_id = OLD.id AND post_id IS NOT NULL;
    ELSIF is_visible AND NEW.body IS DISTINCT FROM OLD.body THEN
        UPDATE notifications SET comment_preview = notification_comment_preview(NEW.body)
         WHERE comment_id = NEW.id AND post_id IS NOT NULL;
    END IF;
    RETURN NULL;
END;
$$;

-- blog_post_comments_notify()
-- AFTER INSERT, UPDATE, DELETE ON blog_post_comments, FOR EACH ROW.
-- A visible comment notifies the blog post's owner with a preview of its body.
-- Soft delete or moderator hide RETRACTS the notification (the deleted text
-- must never survive in it); undelete writes it again, as a new unread
-- notification, if the rules still allow it. An edit updates the preview.
-- A hard DELETE of the comment retracts it too.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION blog_post_comments_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    was_visible boolean;
    is_visible boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM notifications WHERE comment_id = OLD.id AND blog_post_id IS NOT NULL;
        RETURN NULL;
    END IF;

    is_visible := notification_comment_is_visible(NEW.hidden_by_mod, NEW.deleted_by_owner, NEW.deleted_by_mod);
    IF TG_OP = 'INSERT' THEN
        was_visible := false;
    ELSE
        was_visible := notification_comment_is_visible(OLD.hidden_by_mod, OLD.deleted_by_owner, OLD.deleted_by_mod);
    END IF;

    IF is_visible AND NOT was_visible THEN
        PERFORM notification_create('comment', NULL, NEW.blog_post_id, NEW.author_id, NEW.author_ip,
                                    NULL, NULL, NEW.id, NEW.body);
    ELSIF was_visible AND NOT is_visible THEN
        DELETE FROM notifications WHERE comment_id = OLD.id AND blog_post_id IS NOT NULL;
    ELSIF is_visible AND NEW.body IS DISTINCT FROM OLD.body THEN
        UPDATE notifications SET comment_preview = notification_comment_preview(NEW.body)
         WHERE comment_id = NEW.id AND blog_post_id IS NOT NULL;
    END IF;
    RETURN NULL;
END;
$$;

-- Triggers on our own tables. Name prefixes fix the firing order.
CREATE TRIGGER _100_assign_seq
    BEFORE INSERT ON notifications
    FOR EACH ROW EXECUTE FUNCTION notifications_assign_seq();
CREATE TRIGGER _900_after_update
    AFTER UPDATE ON notifications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_after_update();
CREATE TRIGGER _900_after_delete
    AFTER DELETE ON notifications
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_after_delete();
CREATE TRIGGER _900_purge_events
    AFTER DELETE ON notification_counters
    FOR EACH ROW EXECUTE FUNCTION notification_counters_purge();

-- Triggers on the host's tables: the host's code does not change.
CREATE TRIGGER notifications_on_reaction
    AFTER INSERT OR UPDATE OF emoji OR DELETE ON reactions
    FOR EACH ROW EXECUTE FUNCTION reactions_notify();
CREATE TRIGGER notifications_on_reaction
    AFTER INSERT OR UPDATE OF emoji OR DELETE ON blog_post_reactions
    FOR EACH ROW EXECUTE FUNCTION blog_post_reactions_notify();
CREATE TRIGGER notifications_on_comment
    AFTER INSERT OR UPDATE OR DELETE ON comments
    FOR EACH ROW EXECUTE FUNCTION comments_notify();
CREATE TRIGGER notifications_on_comment
    AFTER INSERT OR UPDATE OR DELETE ON blog_post_comments
    FOR EACH ROW EXECUTE FUNCTION blog_post_comments_notify();
