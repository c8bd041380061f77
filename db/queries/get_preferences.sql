-- get_preferences: a user's switches. No row means every switch is on.
SELECT notify_on_post_reactions, notify_on_post_comments, notify_on_blog_reactions,
       notify_on_blog_comments, aggregate_same_type
  FROM notification_preferences
 WHERE user_id = %(user_id)s
