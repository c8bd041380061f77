-- notifications_on_host_truncate()
-- AFTER TRUNCATE ON the host's tables, FOR EACH STATEMENT.
-- TG_ARGV[0] is the notification type the table feeds ('reaction',
-- 'comment', or 'any' for posts and blog posts), TG_ARGV[1] the content
-- ('post', 'blog_post', or 'all' for users).
-- TRUNCATE fires no DELETE trigger, so without this the notifications of
-- truncated rows would outlive them. Truncating users ends every stream:
-- everything of ours goes with them in the host's own transaction (TRUNCATE
-- already locks the host's tables exclusively, and a rollback restores all).
-- Any other table asks the sequencer to retract what it fed.
CREATE OR REPLACE FUNCTION notifications_on_host_truncate()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
BEGIN
    IF TG_ARGV[1] = 'all' THEN
        BEGIN
            TRUNCATE notifications, notification_changes, notification_requests,
                     notification_counters, notification_events, notification_rate_limits,
                     notification_preferences;
        EXCEPTION WHEN object_in_use THEN
            -- The host's own statement truncated some of ours too (TRUNCATE users,
            -- notifications, ... CASCADE): TRUNCATE may not touch them again here.
            DELETE FROM notifications;
            DELETE FROM notification_changes;
            DELETE FROM notification_requests;
            DELETE FROM notification_counters;
            DELETE FROM notification_events;
            DELETE FROM notification_rate_limits;
            DELETE FROM notification_preferences;
        END;
    ELSE
        INSERT INTO notification_requests (kind, notification_type, content_type)
        VALUES ('truncate', nullif(TG_ARGV[0], 'any'), TG_ARGV[1]);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('any', 'all');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('any', 'post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON blog_posts
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('any', 'blog_post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON reactions
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('reaction', 'post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON blog_post_reactions
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('reaction', 'blog_post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON comments
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('comment', 'post');
CREATE OR REPLACE TRIGGER notifications_on_truncate
    AFTER TRUNCATE ON blog_post_comments
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_on_host_truncate('comment', 'blog_post');
