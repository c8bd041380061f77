-- mute_list: the caller's mutes, newest first, each with the title its newest
-- notification copied (NULL when none is left).
SELECT m.id, m.content_type, m.content_id, m.thread_id, m.created_at,
       coalesce((SELECT n.content_title FROM notifications AS n  -- by the content's own index
                   WHERE m.content_type = 'post' AND n.post_id = m.content_id
                     AND n.user_id = m.user_id ORDER BY n.seq DESC LIMIT 1),
                 (SELECT n.content_title FROM notifications AS n
                   WHERE m.content_type = 'blog_post' AND n.blog_post_id = m.content_id
                     AND n.user_id = m.user_id ORDER BY n.seq DESC LIMIT 1)) AS content_title
  FROM notification_mutes AS m
 WHERE m.user_id = %(user_id)s
 ORDER BY m.created_at DESC, m.id DESC
