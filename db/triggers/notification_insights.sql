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
