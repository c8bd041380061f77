-- Per-actor, per-recipient hourly limit on notifications (the live site
-- uses 720/hour), enforced in the database so no client can bypass it.
-- Set notification_settings.max_per_actor_per_hour to NULL to turn it off.
-- depends: 0002_create_notification_triggers

ALTER TABLE notification_settings
    ADD COLUMN max_per_actor_per_hour integer DEFAULT 720 CHECK (max_per_actor_per_hour > 0);

CREATE TABLE notification_rate_limits (
    user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_key     text NOT NULL,  -- 'user:<id>' or 'ip:<address>'
    hour          timestamptz NOT NULL,
    notifications integer NOT NULL,
    PRIMARY KEY (user_id, actor_key, hour)
);
CREATE INDEX notification_rate_limits_hour ON notification_rate_limits (hour);

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
