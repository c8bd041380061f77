-- push_presence_delete: this instance stops (its row, and stale ones past :fresh seconds, go).
DELETE FROM notification_presence
 WHERE instance = %(instance)s OR seen_at < now() - make_interval(secs => %(fresh)s)
