-- update_preferences: change the switches given (NULL = leave as is), creating the row if needed.
-- Returns no row when the user does not exist in the host's users table.
INSERT INTO notification_preferences AS p
       (user_id, notify_on_post_reactions, notify_on_post_comments, notify_on_blog_reactions,
        notify_on_blog_comments, aggregate_same_type)
SELECT u.id,
       coalesce(%(notify_on_post_reactions)s, true), coalesce(%(notify_on_post_comments)s, true),
       coalesce(%(notify_on_blog_reactions)s, true), coalesce(%(notify_on_blog_comments)s, true),
       coalesce(%(aggregate_same_type)s, true)
  FROM users AS u
 WHERE u.id = %(user_id)s
ON CONFLICT (user_id) DO UPDATE SET
       notify_on_post_reactions = coalesce(%(notify_on_post_reactions)s, p.notify_on_post_reactions),
       notify_on_post_comments = coalesce(%(notify_on_post_comments)s, p.notify_on_post_comments),
       notify_on_blog_reactions = coalesce(%(notify_on_blog_reactions)s, p.notify_on_blog_reactions),
       notify_on_blog_comments = coalesce(%(notify_on_blog_comments)s, p.notify_on_blog_comments),
       aggregate_same_type = coalesce(%(aggregate_same_type)s, p.aggregate_same_type),
       updated_at = now()
RETURNING notify_on_post_reactions, notify_on_post_comments, notify_on_blog_reactions,
          notify_on_blog_comments, aggregate_same_type
