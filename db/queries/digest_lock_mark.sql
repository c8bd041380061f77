-- digest_lock_mark: hold the user's digest mark while a digest is built and sent: a second
-- sender (another instance, `digest --now`) waits, then sees the advanced mark. Also the
-- address and the schedule as they are now.
SELECT d.covered_seq, d.last_sent_at, u.email, u.email_verified,
       coalesce(p.digest_schedule, 'daily') AS digest_schedule, p.snoozed_until
  FROM notification_digests AS d
  JOIN users AS u ON u.id = d.user_id
  LEFT JOIN notification_preferences AS p ON p.user_id = d.user_id
 WHERE d.user_id = %(user_id)s
   FOR UPDATE OF d
