-- The rules that decide whether, and what, a host write notifies.
-- Each rule lives here once; the host-table triggers only call these.
-- None of these functions may raise on bad host data: a failure here would
-- abort the host's own write.

-- notification_announce(user_id)
-- Wakes every service process with the recipient's id on channel
-- `notifications_v1`. The payload is only the id, so it is tiny whatever the
-- data, and PostgreSQL folds identical payloads: one NOTIFY per recipient per
-- transaction. Delivered at commit only; a rollback announces nothing.
CREATE OR REPLACE FUNCTION notification_announce(p_user_id integer)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF (SELECT announce FROM notification_settings) THEN
        PERFORM pg_notify('notifications_v1', p_user_id::text);
    END IF;
END;
$$;

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

-- notification_is_wanted(owner, actor, notification_type, content_type)
-- False when nothing may be written: the kill switch is off, the actor is
-- the owner, the owner turned this kind off, or either user blocks the other.
CREATE OR REPLACE FUNCTION notification_is_wanted(
    p_owner_id integer,
    p_actor_id integer,
    p_notification_type text,
    p_content_type text
)
RETURNS boolean
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    prefs notification_preferences;
    wanted boolean;
BEGIN
    IF NOT (SELECT enabled FROM notification_settings) THEN
        RETURN false;
    END IF;
    IF p_actor_id IS NOT NULL AND p_actor_id = p_owner_id THEN
        RETURN false;
    END IF;
    SELECT * INTO prefs FROM notification_preferences WHERE user_id = p_owner_id;
    IF FOUND THEN
        -- (PL/pgSQL ends an IF condition at the first THEN, so no CASE here.)
        wanted := CASE
            WHEN p_notification_type = 'reaction' AND p_content_type = 'post' THEN prefs.reactions_on_posts
            WHEN p_notification_type = 'comment' AND p_content_type = 'post' THEN prefs.comments_on_posts
            WHEN p_notification_type = 'reaction' THEN prefs.reactions_on_blog_posts
            ELSE prefs.comments_on_blog_posts
        END;
        IF NOT wanted THEN
            RETURN false;
        END IF;
    END IF;
    IF p_actor_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM user_blocks
        WHERE (blocker_id = p_owner_id AND blocked_id = p_actor_id)
           OR (blocker_id = p_actor_id AND blocked_id = p_owner_id)
    ) THEN
        RETURN false;
    END IF;
    RETURN true;
END;
$$;

-- notification_within_rate_limit(owner, actor_id, actor_ip)
-- Counts one more notification from this actor (a user, or an anonymous IP)
-- to this owner in the current hour, and says whether it is still within
-- notification_settings.max_per_actor_per_hour, so a script cannot flood a
-- user. Past the limit the host's write still succeeds; it just notifies
-- nobody. Old hours are deleted by retention.
CREATE OR REPLACE FUNCTION notification_within_rate_limit(
    p_owner_id integer, p_actor_id integer, p_actor_ip text
)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    v_limit integer := (SELECT max_per_actor_per_hour FROM notification_settings);
    v_count integer;
BEGIN
    IF v_limit IS NULL THEN
        RETURN true;
    END IF;
    INSERT INTO notification_rate_limits AS r (user_id, actor_key, hour, notifications)
    VALUES (p_owner_id,
            CASE WHEN p_actor_id IS NOT NULL THEN 'user:' || p_actor_id
                 ELSE 'ip:' || coalesce(p_actor_ip, '') END,
            date_trunc('hour', now()), 1)
    ON CONFLICT (user_id, actor_key, hour) DO UPDATE
       SET notifications = r.notifications + 1
    RETURNING notifications INTO v_count;
    RETURN v_count <= v_limit;
END;
$$;

-- notification_create(...)
-- Writes one notification for the owner of a post or blog post, if wanted
-- and within the per-actor hourly limit.
-- Copies the actor's handle ('Anonymous' with the IP when there is no user),
-- the content's title and URL, so the list needs no join with host tables.
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
AS $$
DECLARE
    v_owner_id integer;
    v_title text;
    v_url text;
    v_handle text := 'Anonymous';
    v_avatar text;
BEGIN
    IF p_post_id IS NOT NULL THEN
        SELECT owner_id, title, coalesce(art_url, '/posts/' || coalesce(public_sqid, id::text))
          INTO v_owner_id, v_title, v_url
          FROM posts WHERE id = p_post_id;
    ELSE
        SELECT owner_id, title, '/blog/' || coalesce(public_sqid, id::text)
          INTO v_owner_id, v_title, v_url
          FROM blog_posts WHERE id = p_blog_post_id;
    END IF;
    IF v_owner_id IS NULL OR NOT notification_is_wanted(
            v_owner_id, p_actor_id, p_notification_type,
            CASE WHEN p_post_id IS NOT NULL THEN 'post' ELSE 'blog_post' END) THEN
        RETURN;
    END IF;
    IF NOT notification_within_rate_limit(v_owner_id, p_actor_id, p_actor_ip) THEN
        RETURN;
    END IF;
    IF p_actor_id IS NOT NULL THEN
        SELECT handle, avatar_url INTO v_handle, v_avatar FROM users WHERE id = p_actor_id;
        p_actor_ip := NULL;  -- a signed-in actor's IP is not ours to keep
    END IF;
    INSERT INTO notifications (
        user_id, notification_type, post_id, blog_post_id, actor_id, actor_ip,
        actor_handle, actor_avatar_url, reaction_id, emoji, comment_id,
        comment_preview, content_title, content_url)
    VALUES (
        v_owner_id, p_notification_type, p_post_id, p_blog_post_id, p_actor_id, p_actor_ip,
        coalesce(v_handle, 'Anonymous'), v_avatar, p_reaction_id, p_emoji, p_comment_id,
        notification_comment_preview(p_comment_body), v_title, v_url);
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
