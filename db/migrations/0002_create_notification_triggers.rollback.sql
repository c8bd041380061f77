-- Detaches from the host tables first, then drops our functions.
-- The host tables and their rows are left exactly as they were.
DROP TRIGGER IF EXISTS notifications_on_comment ON blog_post_comments;
DROP TRIGGER IF EXISTS notifications_on_comment ON comments;
DROP TRIGGER IF EXISTS notifications_on_reaction ON blog_post_reactions;
DROP TRIGGER IF EXISTS notifications_on_reaction ON reactions;
DROP TRIGGER IF EXISTS _900_purge_events ON notification_counters;
DROP TRIGGER IF EXISTS _900_after_delete ON notifications;
DROP TRIGGER IF EXISTS _900_after_update ON notifications;
DROP TRIGGER IF EXISTS _100_assign_seq ON notifications;
DROP FUNCTION IF EXISTS blog_post_comments_notify();
DROP FUNCTION IF EXISTS comments_notify();
DROP FUNCTION IF EXISTS blog_post_reactions_notify();
DROP FUNCTION IF EXISTS reactions_notify();
DROP FUNCTION IF EXISTS notifications_after_delete();
DROP FUNCTION IF EXISTS notifications_after_update();
DROP FUNCTION IF EXISTS notifications_assign_seq();
DROP FUNCTION IF EXISTS notification_counters_purge();
DROP FUNCTION IF EXISTS notification_record_event(integer, text, uuid[], bigint);
DROP FUNCTION IF EXISTS notification_comment_is_visible(boolean, boolean, boolean);
DROP FUNCTION IF EXISTS notification_create(text, integer, integer, integer, text, integer, text, uuid, text);
DROP FUNCTION IF EXISTS notification_comment_preview(text);
