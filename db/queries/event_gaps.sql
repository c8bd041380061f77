-- event_gaps: users whose replay log is not contiguous or does not end exactly at their
-- stream head.
SELECT e.user_id, min(e.seq) AS first_seq, max(e.seq) AS last_event, count(*) AS events,
       c.last_seq
  FROM notification_events AS e
  JOIN notification_counters AS c USING (user_id)
 GROUP BY e.user_id, c.last_seq
HAVING max(e.seq) <> c.last_seq OR count(*) <> max(e.seq) - min(e.seq) + 1
 ORDER BY 1
