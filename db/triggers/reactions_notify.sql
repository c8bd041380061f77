-- reactions_notify()
-- AFTER INSERT, UPDATE OF emoji, DELETE ON reactions, FOR EACH ROW.
-- INSERT notifies the post's owner; DELETE (un-react) retracts that
-- notification; a changed emoji follows into the notification.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION reactions_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM notification_create('reaction', NEW.post_id, NULL, NEW.user_id, NEW.user_ip,
                                    NEW.id, NEW.emoji, NULL, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM notifications
         WHERE reaction_id = OLD.id AND post_id IS NOT NULL AND notification_type = 'reaction';
    ELSIF NEW.emoji IS DISTINCT FROM OLD.emoji THEN
        UPDATE notifications SET emoji = NEW.emoji
         WHERE reaction_id = NEW.id AND post_id IS NOT NULL AND notification_type = 'reaction';
    END IF;
    RETURN NULL;
END;
$$;
