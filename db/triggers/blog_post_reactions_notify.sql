-- blog_post_reactions_notify()
-- AFTER INSERT, UPDATE OF emoji, DELETE ON blog_post_reactions, FOR EACH ROW.
-- INSERT notifies the blog post's owner; DELETE (un-react) retracts that
-- notification; a changed emoji follows into the notification.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION blog_post_reactions_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM notification_create('reaction', NULL, NEW.blog_post_id, NEW.user_id, NEW.user_ip,
                                    NEW.id, NEW.emoji, NULL, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM notifications
         WHERE reaction_id = OLD.id AND blog_post_id IS NOT NULL AND notification_type = 'reaction';
    ELSIF NEW.emoji IS DISTINCT FROM OLD.emoji THEN
        UPDATE notifications SET emoji = NEW.emoji
         WHERE reaction_id = NEW.id AND blog_post_id IS NOT NULL AND notification_type = 'reaction';
    END IF;
    RETURN NULL;
END;
$$;
