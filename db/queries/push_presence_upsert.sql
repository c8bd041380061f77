-- push_presence_upsert: this service instance's users with an open socket, now.
INSERT INTO notification_presence (instance, user_ids, seen_at) VALUES (%(instance)s, %(user_ids)s, now())
ON CONFLICT (instance) DO UPDATE SET user_ids = excluded.user_ids, seen_at = excluded.seen_at
