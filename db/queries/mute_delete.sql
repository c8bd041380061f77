-- mute_delete: the caller unmutes one of their mutes (nobody else's).
DELETE FROM notification_mutes WHERE id = %(id)s AND user_id = %(user_id)s
