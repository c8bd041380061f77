-- Restores notification_create as of 0002 and drops the rate limit.

-- notification_create(...)
-- Writes one notification for the owner of a post or blog post, if wanted.
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

DROP FUNCTION IF EXISTS notification_within_rate_limit(integer, integer, text);
DROP TABLE IF EXISTS notification_rate_limits;
ALTER TABLE notification_settings DROP COLUMN IF EXISTS max_per_actor_per_hour;
