-- delete_notification: delete one of the caller's notifications; nothing when it is not theirs.
DELETE FROM notifications
 WHERE user_id = %(user_id)s
   AND id = %(id)s
