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

-- notification_allowed(owner_id, actor_id, notification_type, content_type)
-- One row (true) when the owner wants to hear about this actor's action, none
-- otherwise: the kill switch is on (notification_settings.enabled), the actor
-- is not the owner, the owner has not turned this kind off
-- (notification_preferences; no row = all on), and neither user blocks the
-- other (user_blocks). The hourly flood limit is notification_within_limit().
-- A set-returning SQL function without SET or SECURITY DEFINER, so the
-- planner inlines it into the calling query (CROSS JOIN LATERAL): a scalar
-- function with sub-selects is called per row through its own executor,
-- a fifth of a one-row host statement's cost.
CREATE OR REPLACE FUNCTION notification_allowed(
    p_owner_id integer, p_actor_id integer, p_notification_type text, p_content_type text
)
RETURNS SETOF boolean
LANGUAGE sql
STABLE
AS $$
    SELECT true
     WHERE coalesce((SELECT enabled FROM notification_settings), true)
       AND p_owner_id IS NOT NULL
       AND (p_actor_id IS NULL OR p_actor_id <> p_owner_id)
       AND coalesce((SELECT CASE
                         WHEN p_notification_type = 'reaction' AND p_content_type = 'post' THEN notify_on_post_reactions
                         WHEN p_notification_type = 'comment' AND p_content_type = 'post' THEN notify_on_post_comments
                         WHEN p_notification_type = 'reaction' THEN notify_on_blog_reactions
                         ELSE notify_on_blog_comments
                     END
                       FROM notification_preferences WHERE user_id = p_owner_id), true)
       -- Two probes of the unique (blocker_id, blocked_id) index, not one OR:
       -- the OR becomes a bitmap scan, three times the work.
       AND NOT EXISTS (SELECT 1 FROM user_blocks
                        WHERE blocker_id = p_owner_id AND blocked_id = p_actor_id)
       AND NOT EXISTS (SELECT 1 FROM user_blocks
                        WHERE blocker_id = p_actor_id AND blocked_id = p_owner_id)
$$;

-- notification_allows(owner_id, actor_id, notification_type, content_type)
-- notification_allowed() as a boolean, for readers and the sequencer's edits.
CREATE OR REPLACE FUNCTION notification_allows(
    p_owner_id integer, p_actor_id integer, p_notification_type text, p_content_type text
)
RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT EXISTS (SELECT FROM notification_allowed(p_owner_id, p_actor_id, p_notification_type,
                                                    p_content_type))
$$;

-- notification_comment_root(content_type, content_id, comment_id)
-- The thread a comment is in: its top-level ancestor (itself when it has no
-- parent), followed up parent_id in the host's comments or blog_post_comments.
-- NULL when the comment is not on that post or blog post. At most 100 steps,
-- so a cycle in the host's data cannot hold a host transaction. The service
-- asks it when a user mutes a thread; notification_unmuted() only for a
-- thread mute on that very content. Runs as its owner, who may read comments.
CREATE OR REPLACE FUNCTION notification_comment_root(
    p_content_type text, p_content_id integer, p_comment_id uuid
)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    v_id uuid := p_comment_id;
    v_parent uuid;
    v_content integer;
BEGIN
    IF p_content_type = 'post' THEN
        SELECT post_id INTO v_content FROM comments WHERE id = p_comment_id;
    ELSE
        SELECT blog_post_id INTO v_content FROM blog_post_comments WHERE id = p_comment_id;
    END IF;
    IF v_content IS DISTINCT FROM p_content_id THEN
        RETURN NULL;
    END IF;
    FOR step IN 1..100 LOOP
        IF p_content_type = 'post' THEN
            SELECT parent_id INTO v_parent FROM comments WHERE id = v_id;
        ELSE
            SELECT parent_id INTO v_parent FROM blog_post_comments WHERE id = v_id;
        END IF;
        EXIT WHEN v_parent IS NULL;
        v_id := v_parent;
    END LOOP;
    RETURN v_id;
END;
$$;

-- Only the triggers (as the owner) and the service (granted in docs/DBA.md) ask it.
REVOKE EXECUTE ON FUNCTION notification_comment_root(text, integer, uuid) FROM PUBLIC;

-- notification_unmuted(owner_id, content_type, content_id, comment_id)
-- One row (true) unless the owner has muted this post or blog post, or, for a
-- comment (comment_id set), the thread it is in (notification_mutes): a muted
-- thing notifies nothing, in no channel, until unmuted. One probe of the mutes'
-- unique index; the thread's root is looked up only when that probe finds a
-- thread mute on this very content. Inlined like notification_allowed().
CREATE OR REPLACE FUNCTION notification_unmuted(
    p_owner_id integer, p_content_type text, p_content_id integer, p_comment_id uuid
)
RETURNS SETOF boolean
LANGUAGE sql
STABLE
AS $$
    SELECT true
     WHERE NOT EXISTS (
               SELECT FROM notification_mutes AS m
                WHERE m.user_id = p_owner_id
                  AND m.content_type = p_content_type
                  AND m.content_id = p_content_id
                  AND (m.thread_id IS NULL
                       OR (p_comment_id IS NOT NULL
                           AND m.thread_id = notification_comment_root(p_content_type, p_content_id,
                                                                       p_comment_id))))
$$;

-- notification_within_limit(owner_id, actor_id, actor_ip, nth)
-- One row (true) when the actor's nth new notification for the owner this
-- hour stays within notification_settings.max_per_actor_per_hour: the
-- committed count (notification_rate_limits, kept by the sequencer) plus nth.
-- Inlined like notification_allowed().
CREATE OR REPLACE FUNCTION notification_within_limit(
    p_owner_id integer, p_actor_id integer, p_actor_ip text, p_nth bigint
)
RETURNS SETOF boolean
LANGUAGE sql
STABLE
AS $$
    SELECT true
      FROM notification_settings AS settings
     WHERE settings.max_per_actor_per_hour IS NULL
        OR coalesce((SELECT notifications FROM notification_rate_limits
                      WHERE user_id = p_owner_id
                        AND actor_key = notification_actor_key(p_actor_id, p_actor_ip)
                        AND hour = date_trunc('hour', now())), 0) + p_nth
           <= settings.max_per_actor_per_hour
$$;

-- notification_content(content_type, content_id)
-- The owner, title and URL a notification about this post or blog post
-- copies, so reads need no join with host tables. No row when it is gone.
-- Inlined like notification_allowed(); a constant content_type leaves one branch.
CREATE OR REPLACE FUNCTION notification_content(p_content_type text, p_content_id integer)
RETURNS TABLE (owner_id integer, title text, url text)
LANGUAGE sql
STABLE
AS $$
    SELECT owner_id, title::text, coalesce(art_url, '/posts/' || coalesce(public_sqid, id::text))::text
      FROM posts WHERE p_content_type = 'post' AND id = p_content_id
    UNION ALL
    SELECT owner_id, title::text, ('/blog/' || coalesce(public_sqid, id::text))::text
      FROM blog_posts WHERE p_content_type = 'blog_post' AND id = p_content_id
$$;

-- notification_actor(actor_id)
-- Exactly one row: the actor's handle and avatar, or 'Anonymous' for an
-- actor without a user (the IP is kept apart). Inlined like notification_allowed().
CREATE OR REPLACE FUNCTION notification_actor(p_actor_id integer)
RETURNS TABLE (handle text, avatar_url text)
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(u.handle::text, 'Anonymous'), u.avatar_url::text
      FROM (VALUES (p_actor_id)) AS a (id)
      LEFT JOIN users AS u ON u.id = a.id
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
       AND (p_limit IS NULL OR EXISTS (
               SELECT FROM notification_within_limit(p_owner_id, p_actor_id, p_actor_ip, 1)))
$$;

-- notification_create_many(type, content_type, content_ids[], actor_ids[], actor_ips[],
--                          reaction_ids[], emojis[], comment_ids[], bodies[])
-- A host statement of several rows (a bulk INSERT, a COPY): one notification
-- per element (the arrays run in parallel) for the owner of the post or blog
-- post, where notification_allowed() says so, the owner has not muted it
-- (notification_unmuted()), and the actor stays within the
-- hourly limit for that owner, counting the earlier rows of this same
-- statement (notification_within_limit() with each row's nth). Copies the
-- actor and the content (notification_actor(), notification_content()).
-- Appends the new rows' change for the sequencer in the same statement
-- (see the WHEN of _900_record_inserts). One statement for the whole batch:
-- a COPY of 100,000 reactions is one call. The triggers write a statement
-- of one row, the host's usual case, with the same functions in a query a
-- tenth the size (a window and a sort cost more than one row's work).
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
           actor.handle, actor.avatar_url, w.reaction_id, w.emoji,
           w.comment_id, notification_comment_preview(w.body), w.title, w.url
      FROM (SELECT src.*, content.owner_id, content.title, content.url,
                   row_number() OVER (PARTITION BY content.owner_id,
                                                   notification_actor_key(src.actor_id, src.actor_ip)
                                      ORDER BY src.ord) AS nth
              FROM unnest(p_content_ids, p_actor_ids, p_actor_ips, p_reaction_ids, p_emojis,
                          p_comment_ids, p_bodies)
                   WITH ORDINALITY AS src (content_id, actor_id, actor_ip, reaction_id, emoji,
                                           comment_id, body, ord)
             CROSS JOIN LATERAL notification_content(p_content_type, src.content_id) AS content
             CROSS JOIN LATERAL notification_allowed(content.owner_id, src.actor_id,
                                                     p_notification_type, p_content_type)
             CROSS JOIN LATERAL notification_unmuted(content.owner_id, p_content_type,
                                                     src.content_id, src.comment_id)) AS w
     CROSS JOIN LATERAL notification_within_limit(w.owner_id, w.actor_id, w.actor_ip, w.nth)
     CROSS JOIN LATERAL notification_actor(w.actor_id) AS actor
     ORDER BY w.ord
    RETURNING user_id, id, seq
    )
    INSERT INTO notification_changes (user_id, kind, notification_ids, unread_delta)
    SELECT user_id, 'created', array_agg(id ORDER BY seq), count(*)
      FROM created
     GROUP BY user_id;
END;
$$;

-- Only the triggers (running as the function's owner) call it.
REVOKE EXECUTE ON FUNCTION notification_create_many(text, text, integer[], integer[], text[], integer[],
                                                    text[], uuid[], text[]) FROM PUBLIC;
