-- group_notifications: the grouped view. Notifications of the same kind on the same
-- content within the last `window_hours` form one group ("5 people reacted to your
-- artwork"); with aggregate = false every notification is its own group.
-- Arrays are newest first; the service picks the actor sample and distinct emojis.
SELECT notification_type, content_type, content_id,
       (array_agg(content_title ORDER BY seq DESC))[1] AS content_title,
       (array_agg(content_url ORDER BY seq DESC))[1] AS content_url,
       count(*) AS total,
       count(*) FILTER (WHERE NOT is_read) AS unread,
       array_agg(actor_id ORDER BY seq DESC) AS actor_ids,
       array_agg(actor_handle ORDER BY seq DESC) AS actor_handles,
       coalesce(array_agg(emoji ORDER BY seq DESC) FILTER (WHERE emoji IS NOT NULL), '{}') AS emojis,
       max(created_at) AS latest_at,
       max(seq) AS latest_seq,
       array_agg(id ORDER BY seq DESC) AS notification_ids
  FROM notifications
 WHERE user_id = %(user_id)s
   AND created_at >= now() - make_interval(hours => %(window_hours)s::integer)
   -- as in the list: only rows at or before the position returned with the page
   AND id <> ALL (ARRAY(SELECT unnest(notification_ids) FROM notification_changes
                         WHERE user_id = %(user_id)s AND kind = 'created'))
 GROUP BY notification_type, content_type, content_id,
          CASE WHEN %(aggregate)s::boolean THEN NULL ELSE id END
 ORDER BY max(seq) DESC
 LIMIT %(limit)s
