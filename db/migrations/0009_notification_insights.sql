-- Insight (issue 15): what notifications do once delivered.
--   * notification_insights: one row per notification, kept apart from notifications
--     (which retention, deletes and retractions remove): who, which kind, the A/B
--     variant, when it was created, pushed, emailed, read and first opened, and through
--     which channel. Written only by the service, after the fact: the insight follower
--     reads the replay log (created and read events), the push and digest workers note
--     what they sent, the open endpoints what was opened. Nothing of it runs in a host
--     transaction or on the delivery path.
--   * notification_insight_marks: how far the follower has read the replay log.
-- Installs db/triggers/notification_insights.sql (the kind and variant rules).
-- depends: 0008_mute_posts_and_threads

CREATE TABLE notification_insights (
    notification_id uuid PRIMARY KEY,
    user_id         integer NOT NULL,
    kind            text NOT NULL,
    variant         text NULL,
    created_at      timestamptz NOT NULL,
    pushed_at       timestamptz NULL,
    emailed_at      timestamptz NULL,
    read_at         timestamptz NULL,
    opened_at       timestamptz NULL,
    opened_via      text NULL CONSTRAINT notification_insights_opened_via
                        CHECK (opened_via IN ('in_app', 'push', 'email'))
);
-- Reports and retention read by creation time; rows arrive in about that order.
CREATE INDEX notification_insights_created ON notification_insights USING brin (created_at);

CREATE TABLE notification_insight_marks (
    name          text PRIMARY KEY,
    covered_until timestamptz NOT NULL
);

-- ===== db/triggers/notification_insights.sql =====
-- The two rules of insight (issue 15): which kind a notification is counted under, and
-- which A/B variant a user is in. Asked by the service's insight queries
-- (db/queries/insights_*.sql), never by a host transaction.

-- notification_insight_kind(notification_type, content_type)
-- The preference kind of a notification: post_reactions, post_comments, blog_reactions
-- or blog_comments (the four of notification_preferences).
CREATE OR REPLACE FUNCTION notification_insight_kind(p_notification_type text, p_content_type text)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN p_content_type = 'post' THEN 'post_' ELSE 'blog_' END
           || CASE WHEN p_notification_type = 'reaction' THEN 'reactions' ELSE 'comments' END
$$;

-- notification_ab_variant(experiment, variants, user_id)
-- The user's variant in an experiment: the same for the same user and experiment, spread
-- evenly over the variants by the first 32 bits of md5('<experiment>:<user id>'); NULL
-- when there are no variants. The service computes the same in Python
-- (insights.variant_for); a test holds the two equal.
CREATE OR REPLACE FUNCTION notification_ab_variant(p_experiment text, p_variants text[], p_user_id integer)
RETURNS text
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT CASE WHEN coalesce(cardinality(p_variants), 0) = 0 THEN NULL
                ELSE p_variants[1 + (('x' || substr(md5(p_experiment || ':' || p_user_id), 1, 8))::bit(32)::bigint
                                     % cardinality(p_variants))::integer]
           END
$$;
