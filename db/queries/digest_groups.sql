-- digest_groups: what one user's next email digest lists. The unread notifications past
-- the digest mark (notification_digests.covered_seq, passed in) whose kind the user gets
-- by email (email_on_<kind>; no preferences row: every kind), grouped as the page's
-- grouped view groups them (group_notifications.sql: same kind on the same content, or
-- each on its own when aggregate_same_type is off), with no time window. Arrays newest first.
WITH prefs AS (
    SELECT coalesce(p.aggregate_same_type, true) AS aggregate,
           coalesce(p.email_on_post_reactions, true) AS post_reactions,
           coalesce(p.email_on_post_comments, true) AS post_comments,
           coalesce(p.email_on_blog_reactions, true) AS blog_reactions,
           coalesce(p.email_on_blog_comments, true) AS blog_comments
      FROM (SELECT %(user_id)s::integer AS user_id) AS u
      LEFT JOIN notification_preferences AS p ON p.user_id = u.user_id
)
SELECT n.notification_type, n.content_type, n.content_id,
       (array_agg(n.content_title ORDER BY n.seq DESC))[1] AS content_title,
       (array_agg(n.content_url ORDER BY n.seq DESC))[1] AS content_url,
       count(*) AS total,
       count(*) AS unread,
       array_agg(n.actor_id ORDER BY n.seq DESC) AS actor_ids,
       array_agg(n.actor_handle ORDER BY n.seq DESC) AS actor_handles,
       coalesce(array_agg(n.emoji ORDER BY n.seq DESC) FILTER (WHERE n.emoji IS NOT NULL), '{}') AS emojis,
       coalesce(array_agg(n.comment_preview ORDER BY n.seq DESC)
                FILTER (WHERE n.comment_preview IS NOT NULL), '{}') AS comment_previews,
       max(n.created_at) AS latest_at,
       max(n.seq) AS latest_seq,
       array_agg(n.id ORDER BY n.seq DESC) AS notification_ids
  FROM notifications AS n, prefs
 WHERE n.user_id = %(user_id)s
   AND NOT n.is_read
   AND n.seq > %(covered_seq)s
   AND CASE WHEN n.content_type = 'post' AND n.notification_type = 'reaction' THEN prefs.post_reactions
            WHEN n.content_type = 'post' THEN prefs.post_comments
            WHEN n.notification_type = 'reaction' THEN prefs.blog_reactions
            ELSE prefs.blog_comments END
 GROUP BY n.notification_type, n.content_type, n.content_id,
          CASE WHEN prefs.aggregate THEN NULL ELSE n.id END
 ORDER BY max(n.seq) DESC
 LIMIT %(limit)s
