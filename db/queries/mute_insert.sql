-- mute_insert: the caller mutes a post or blog post (thread_id NULL) or one thread on it.
-- Idempotent: muting again returns the mute already there. No row when the caller
-- already holds %(max_mutes)s mutes and this one is new.
INSERT INTO notification_mutes (user_id, content_type, content_id, thread_id)
SELECT %(user_id)s, %(content_type)s, %(content_id)s, %(thread_id)s::uuid
 WHERE (SELECT count(*) FROM notification_mutes WHERE user_id = %(user_id)s) < %(max_mutes)s
    OR EXISTS (SELECT FROM notification_mutes
                WHERE user_id = %(user_id)s AND content_type = %(content_type)s
                  AND content_id = %(content_id)s
                  AND thread_id IS NOT DISTINCT FROM %(thread_id)s::uuid)
    ON CONFLICT ON CONSTRAINT notification_mutes_once
    DO UPDATE SET created_at = notification_mutes.created_at  -- returns the row already there
RETURNING id, content_type, content_id, thread_id, created_at,
          coalesce((SELECT n.content_title FROM notifications AS n  -- by the content's own index
                      WHERE %(content_type)s = 'post' AND n.post_id = %(content_id)s
                        AND n.user_id = %(user_id)s ORDER BY n.seq DESC LIMIT 1),
                    (SELECT n.content_title FROM notifications AS n
                      WHERE %(content_type)s = 'blog_post' AND n.blog_post_id = %(content_id)s
                        AND n.user_id = %(user_id)s ORDER BY n.seq DESC LIMIT 1)) AS content_title
