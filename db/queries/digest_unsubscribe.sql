-- digest_unsubscribe: turn a user's email digests off (the List-Unsubscribe link), creating
-- the preferences row with the defaults otherwise. No row when the user no longer exists.
INSERT INTO notification_preferences AS p (user_id, digest_schedule)
SELECT u.id, 'off' FROM users AS u WHERE u.id = %(user_id)s
ON CONFLICT (user_id) DO UPDATE SET digest_schedule = 'off', updated_at = now()
RETURNING p.user_id
