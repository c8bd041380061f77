-- digest_candidates: the users an email digest may be due for: a verified address
-- (users.email, email_verified), a schedule other than off, and some unread notification
-- past their digest mark. Whether it is due now (hour, day, quiet hours, snooze) is the
-- worker's to decide (digest_worker.is_due); the kinds they get by email, the builder's.
-- No preferences row: the defaults (daily, UTC, no quiet hours, no snooze).
SELECT u.id AS user_id,
       coalesce(p.digest_schedule, 'daily') AS digest_schedule,
       coalesce(p.time_zone, 'UTC') AS time_zone,
       p.quiet_hours_start, p.quiet_hours_end, p.snoozed_until,
       d.last_sent_at
  FROM users AS u
  LEFT JOIN notification_preferences AS p ON p.user_id = u.id
  LEFT JOIN notification_digests AS d ON d.user_id = u.id
 WHERE u.email_verified AND u.email IS NOT NULL AND u.email <> ''
   AND coalesce(p.digest_schedule, 'daily') <> 'off'
   AND EXISTS (SELECT 1 FROM notifications AS n
                WHERE n.user_id = u.id AND NOT n.is_read
                  AND n.seq > coalesce(d.covered_seq, 0))
 ORDER BY u.id
