-- blog_post_comments_notify()
-- AFTER INSERT, UPDATE, DELETE ON blog_post_comments, FOR EACH ROW.
-- A visible comment notifies the blog post's owner with a preview of its body.
-- Soft delete or moderator hide RETRACTS the notification (the deleted text
-- must never survive in it); undelete writes it again, as a new unread
-- notification, if the rules still allow it. An edit updates the preview.
-- A hard DELETE of the comment retracts it too.
-- Must never make the host's write fail on account of notifications.
CREATE OR REPLACE FUNCTION blog_post_comments_notify()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    was_visible boolean;
    is_visible boolean;
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM notifications WHERE comment_id = OLD.id AND blog_post_id IS NOT NULL;
        RETURN NULL;
    END IF;

    is_visible := notification_comment_is_visible(NEW.hidden_by_mod, NEW.deleted_by_owner, NEW.deleted_by_mod);
    IF TG_OP = 'INSERT' THEN
        was_visible := false;
    ELSE
        was_visible := notification_comment_is_visible(OLD.hidden_by_mod, OLD.deleted_by_owner, OLD.deleted_by_mod);
    END IF;

    IF is_visible AND NOT was_visible THEN
        PERFORM notification_create('comment', NULL, NEW.blog_post_id, NEW.author_id, NEW.author_ip,
                                    NULL, NULL, NEW.id, NEW.body);
    ELSIF was_visible AND NOT is_visible THEN
        DELETE FROM notifications WHERE comment_id = OLD.id AND blog_post_id IS NOT NULL;
    ELSIF is_visible AND NEW.body IS DISTINCT FROM OLD.body THEN
        UPDATE notifications SET comment_preview = notification_comment_preview(NEW.body)
         WHERE comment_id = NEW.id AND blog_post_id IS NOT NULL;
    END IF;
    RETURN NULL;
END;
$$;
