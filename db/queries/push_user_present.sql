-- push_user_present: whether any service instance has reported an open socket of the user
-- within :fresh seconds (an instance that stopped reporting counts as gone).
SELECT EXISTS (SELECT 1 FROM notification_presence
                WHERE %(user_id)s = ANY (user_ids) AND seen_at > now() - make_interval(secs => %(fresh)s))
