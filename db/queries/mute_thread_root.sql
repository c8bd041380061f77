-- mute_thread_root: the top-level comment of the thread a comment is in, or NULL when
-- that comment is not on that post or blog post (notification_comment_root()).
SELECT notification_comment_root(%(content_type)s, %(content_id)s, %(comment_id)s) AS thread_id
