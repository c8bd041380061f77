-- update_preferences: change the fields given (NULL = leave as is; quiet hours and the snooze
-- are set, or cleared with NULL, when their set_* flag is true), creating the row if needed.
-- Returns no row when the user does not exist in the host's users table.
INSERT INTO notification_preferences AS p
       (user_id, notify_on_post_reactions, notify_on_post_comments, notify_on_blog_reactions,
        notify_on_blog_comments, aggregate_same_type,
        push_on_post_reactions, push_on_post_comments, push_on_blog_reactions, push_on_blog_comments,
        email_on_post_reactions, email_on_post_comments, email_on_blog_reactions,
        email_on_blog_comments, digest_schedule, time_zone, quiet_hours_start, quiet_hours_end,
        snoozed_until)
SELECT u.id,
       coalesce(%(notify_on_post_reactions)s, true), coalesce(%(notify_on_post_comments)s, true),
       coalesce(%(notify_on_blog_reactions)s, true), coalesce(%(notify_on_blog_comments)s, true),
       coalesce(%(aggregate_same_type)s, true),
       coalesce(%(push_on_post_reactions)s, true), coalesce(%(push_on_post_comments)s, true),
       coalesce(%(push_on_blog_reactions)s, true), coalesce(%(push_on_blog_comments)s, true),
       coalesce(%(email_on_post_reactions)s, true), coalesce(%(email_on_post_comments)s, true),
       coalesce(%(email_on_blog_reactions)s, true), coalesce(%(email_on_blog_comments)s, true),
       coalesce(%(digest_schedule)s, 'daily'), coalesce(%(time_zone)s, 'UTC'),
       %(quiet_hours_start)s::time, %(quiet_hours_end)s::time, %(snoozed_until)s::timestamptz
  FROM users AS u
 WHERE u.id = %(user_id)s
ON CONFLICT (user_id) DO UPDATE SET
       notify_on_post_reactions = coalesce(%(notify_on_post_reactions)s, p.notify_on_post_reactions),
       notify_on_post_comments = coalesce(%(notify_on_post_comments)s, p.notify_on_post_comments),
       notify_on_blog_reactions = coalesce(%(notify_on_blog_reactions)s, p.notify_on_blog_reactions),
       notify_on_blog_comments = coalesce(%(notify_on_blog_comments)s, p.notify_on_blog_comments),
       aggregate_same_type = coalesce(%(aggregate_same_type)s, p.aggregate_same_type),
       push_on_post_reactions = coalesce(%(push_on_post_reactions)s, p.push_on_post_reactions),
       push_on_post_comments = coalesce(%(push_on_post_comments)s, p.push_on_post_comments),
       push_on_blog_reactions = coalesce(%(push_on_blog_reactions)s, p.push_on_blog_reactions),
       push_on_blog_comments = coalesce(%(push_on_blog_comments)s, p.push_on_blog_comments),
       email_on_post_reactions = coalesce(%(email_on_post_reactions)s, p.email_on_post_reactions),
       email_on_post_comments = coalesce(%(email_on_post_comments)s, p.email_on_post_comments),
       email_on_blog_reactions = coalesce(%(email_on_blog_reactions)s, p.email_on_blog_reactions),
       email_on_blog_comments = coalesce(%(email_on_blog_comments)s, p.email_on_blog_comments),
       digest_schedule = coalesce(%(digest_schedule)s, p.digest_schedule),
       time_zone = coalesce(%(time_zone)s, p.time_zone),
       quiet_hours_start = CASE WHEN %(set_quiet_hours)s THEN %(quiet_hours_start)s::time
                                ELSE p.quiet_hours_start END,
       quiet_hours_end = CASE WHEN %(set_quiet_hours)s THEN %(quiet_hours_end)s::time
                              ELSE p.quiet_hours_end END,
       snoozed_until = CASE WHEN %(set_snoozed_until)s THEN %(snoozed_until)s::timestamptz
                            ELSE p.snoozed_until END,
       updated_at = now()
RETURNING notify_on_post_reactions, notify_on_post_comments, notify_on_blog_reactions,
          notify_on_blog_comments, aggregate_same_type,
          push_on_post_reactions, push_on_post_comments, push_on_blog_reactions,
          push_on_blog_comments, email_on_post_reactions, email_on_post_comments,
          email_on_blog_reactions, email_on_blog_comments, digest_schedule, time_zone,
          to_char(quiet_hours_start, 'HH24:MI') AS quiet_hours_start,
          to_char(quiet_hours_end, 'HH24:MI') AS quiet_hours_end, snoozed_until
