-- get_preferences: a user's switches, digest schedule, time zone, quiet hours ("HH:MM"
-- in that zone) and snooze. No row means the defaults: every switch on, daily digests, UTC.
SELECT notify_on_post_reactions, notify_on_post_comments, notify_on_blog_reactions,
       notify_on_blog_comments, aggregate_same_type,
       push_on_post_reactions, push_on_post_comments, push_on_blog_reactions, push_on_blog_comments,
       email_on_post_reactions, email_on_post_comments, email_on_blog_reactions,
       email_on_blog_comments, digest_schedule, time_zone,
       to_char(quiet_hours_start, 'HH24:MI') AS quiet_hours_start,
       to_char(quiet_hours_end, 'HH24:MI') AS quiet_hours_end, snoozed_until
  FROM notification_preferences
 WHERE user_id = %(user_id)s
