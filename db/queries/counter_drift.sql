-- counter_drift: users whose badge (the sequencer's count plus the deltas still waiting
-- for it) differs from their unread rows, including users with unread rows and no counter.
SELECT coalesce(c.user_id, n.user_id) AS user_id,
       coalesce(c.unread_count, 0) AS counter,
       coalesce(n.unread, 0) AS actual
  FROM (SELECT coalesce(folded.user_id, pending.user_id) AS user_id,
               coalesce(folded.unread_count, 0) + coalesce(pending.delta, 0) AS unread_count
          FROM notification_counters AS folded
          FULL JOIN (SELECT user_id, sum(unread_delta) AS delta
                       FROM notification_changes GROUP BY user_id) AS pending
            ON pending.user_id = folded.user_id) AS c
  FULL JOIN (SELECT user_id, count(*) AS unread
               FROM notifications WHERE NOT is_read GROUP BY user_id) AS n
    ON n.user_id = c.user_id
 WHERE coalesce(c.unread_count, 0) <> coalesce(n.unread, 0)
 ORDER BY 1
