-- Rolls back 0009: the insight tables and the kind and variant rules go.
DROP FUNCTION notification_ab_variant(text, text[], integer);
DROP FUNCTION notification_insight_kind(text, text);
DROP TABLE notification_insight_marks;
DROP TABLE notification_insights;
