-- events_after: for many users at once, the changes after a position each, oldest first.
-- One query per listener wakeup, whatever the number of users: unnest pairs each
-- user id with the position its sockets have reached.
SELECT e.user_id, e.seq, e.kind, e.notification_ids, e.unread_count, e.created_at
  FROM unnest(%(user_ids)s::integer[], %(after_seqs)s::bigint[]) AS w(user_id, after_seq)
  CROSS JOIN LATERAL (
        SELECT ev.user_id, ev.seq, ev.kind, ev.notification_ids, ev.unread_count, ev.created_at
          FROM notification_events ev
         WHERE ev.user_id = w.user_id AND ev.seq > w.after_seq
         ORDER BY ev.seq
         LIMIT %(per_user_limit)s
       ) e
 ORDER BY e.user_id, e.seq
