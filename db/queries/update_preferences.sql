-- update_preferences: change the switches given (NULL = leave as is), creating the row if needed.
-- Returns no row when the user does not exist in the host's users table.
INSERT INTO notification_preferences AS p
       (user_id, reactions_on_posts, comments_on_posts, reactions_on_blog_posts,
        comments_on_blog_posts, aggregate_same_type)
SELECT u.id,
       coalesce(%(reactions_on_posts)s, true), coalesce(%(comments_on_posts)s, true),
       coalesce(%(reactions_on_blog_posts)s, true), coalesce(%(comments_on_blog_posts)s, true),
       coalesce(%(aggregate_same_type)s, true)
  FROM users AS u
 WHERE u.id = %(user_id)s
ON CONFLICT (user_id) DO UPDATE SET
       reactions_on_posts = coalesce(%(reactions_on_posts)s, p.reactions_on_posts),
       comments_on_posts = coalesce(%(comments_on_posts)s, p.comments_on_posts),
       reactions_on_blog_posts = coalesce(%(reactions_on_blog_posts)s, p.reactions_on_blog_posts),
       comments_on_blog_posts = coalesce(%(comments_on_blog_posts)s, p.comments_on_blog_posts),
       aggregate_same_type = coalesce(%(aggregate_same_type)s, p.aggregate_same_type),
       updated_at = now()
RETURNING reactions_on_posts, comments_on_posts, reactions_on_blog_posts,
          comments_on_blog_posts, aggregate_same_type
