-- user_counter: the unread badge and stream position of one user (one primary-key lookup).
-- A user who never had a notification has no row: the caller reads that as (0, 0).
SELECT unread_count, last_seq
  FROM notification_counters
 WHERE user_id = %(user_id)s
