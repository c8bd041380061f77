-- notifications_assign_seq()
-- BEFORE INSERT ON notifications, FOR EACH ROW.
-- Counts the new row into its recipient's unread badge, gives it the next
-- position of the user's stream and records the 'created' event. Every
-- insert, by a host trigger or by hand, goes through here, so the counter
-- cannot drift.
CREATE OR REPLACE FUNCTION notifications_assign_seq()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.is_read AND NEW.read_at IS NULL THEN
        NEW.read_at := now();
    END IF;
    NEW.seq := notification_record_event(
        NEW.user_id, 'created', ARRAY[NEW.id], CASE WHEN NEW.is_read THEN 0 ELSE 1 END);
    RETURN NEW;
END;
$$;
