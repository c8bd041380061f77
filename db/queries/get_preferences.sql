-- get_preferences: a user's switches. No row means every switch is on.
SELECT reactions_on_posts, comments_on_posts, reactions_on_blog_posts,
       comments_on_blog_posts, aggregate_same_type
  FROM notification_preferences
 WHERE user_id = %(user_id)s
