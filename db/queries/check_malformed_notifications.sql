-- Notification rows that break the shape every writer of ours keeps: a known
-- kind, exactly one of post_id / blog_post_id, and the source id that kind
-- needs (a reaction's reaction_id, a comment's comment_id). These were CHECK
-- constraints until 0004: each cost a parse of its expression in every host
-- statement that notifies, a third of the trigger's time, for rows that only
-- our own functions write. `notifications check` reports them instead.
SELECT id, user_id, notification_type
  FROM notifications
 WHERE notification_type IS DISTINCT FROM 'reaction' AND notification_type IS DISTINCT FROM 'comment'
    OR (post_id IS NULL) = (blog_post_id IS NULL)
    OR (notification_type = 'reaction' AND (reaction_id IS NULL OR comment_id IS NOT NULL))
    OR (notification_type = 'comment' AND (comment_id IS NULL OR reaction_id IS NOT NULL))
 ORDER BY id
 LIMIT 100
