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
