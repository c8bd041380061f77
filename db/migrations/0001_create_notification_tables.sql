-- Tables and indexes of the notifications service.
-- Requires the host tables users, posts and blog_posts (CONTRACT.md §1).
-- Touches no host table: rolling back drops only what is created here.

-- One row of switches a DBA can flip at run time, without a deploy:
--   enabled  = false  -> the host triggers write no new notifications (kill switch)
--   announce = false  -> no pg_notify; rows and counters are still kept exact
--   max_per_actor_per_hour -> flood limit per (recipient, actor); NULL = none
CREATE TABLE notification_settings (
    singleton              boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    enabled                boolean NOT NULL DEFAULT true,
    announce               boolean NOT NULL DEFAULT true,
    max_per_actor_per_hour integer DEFAULT 720 CHECK (max_per_actor_per_hour > 0)
);
INSERT INTO notification_settings DEFAULT VALUES;

-- What a user wants to hear about. A missing row means "all on".
CREATE TABLE notification_preferences (
    user_id                 integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    reactions_on_posts      boolean NOT NULL DEFAULT true,
    comments_on_posts       boolean NOT NULL DEFAULT true,
    reactions_on_blog_posts boolean NOT NULL DEFAULT true,
    comments_on_blog_posts  boolean NOT NULL DEFAULT true,
    aggregate_same_type     boolean NOT NULL DEFAULT true,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- Per-user unread badge and stream position. Only the triggers on
-- `notifications` write it; the row lock they take serialises a user's
-- writers, which is what makes `last_seq` gap-free and commit-ordered.
CREATE TABLE notification_counters (
    user_id      integer PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    unread_count bigint NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    last_seq     bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);

CREATE TABLE notifications (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- position of this notification's 'created' event in the user's stream
    seq               bigint NOT NULL DEFAULT 0,
    notification_type text NOT NULL CHECK (notification_type IN ('reaction', 'comment')),
    -- exactly one of post_id / blog_post_id is set; both cascade on hard delete
    post_id           integer REFERENCES posts (id) ON DELETE CASCADE,
    blog_post_id      integer REFERENCES blog_posts (id) ON DELETE CASCADE,
    content_type      text GENERATED ALWAYS AS (
                          CASE WHEN post_id IS NOT NULL THEN 'post' ELSE 'blog_post' END
                      ) STORED,
    content_id        integer GENERATED ALWAYS AS (coalesce(post_id, blog_post_id)) STORED,
    -- a purged actor takes the notifications they caused with them
    actor_id          integer REFERENCES users (id) ON DELETE CASCADE,
    actor_ip          text,
    actor_handle      text NOT NULL,
    actor_avatar_url  text,
    -- source rows, so that un-react and comment moderation can find them
    reaction_id       integer,
    emoji             text,
    comment_id        uuid,
    comment_preview   text,
    content_title     text NOT NULL,
    content_url       text,
    is_read           boolean NOT NULL DEFAULT false,
    read_at           timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notifications_one_content CHECK ((post_id IS NULL) <> (blog_post_id IS NULL)),
    CONSTRAINT notifications_source CHECK (
        (notification_type = 'reaction' AND reaction_id IS NOT NULL AND comment_id IS NULL)
        OR (notification_type = 'comment' AND comment_id IS NOT NULL AND reaction_id IS NULL)
    )
);

-- Newest first (list, cursor pages, replay, mark-all-read up to a position).
CREATE UNIQUE INDEX notifications_user_seq ON notifications (user_id, seq);
-- Unread only.
CREATE INDEX notifications_user_unread ON notifications (user_id, seq) WHERE NOT is_read;
-- By content and by source row: cascades, un-react, comment moderation.
CREATE INDEX notifications_post ON notifications (post_id) WHERE post_id IS NOT NULL;
CREATE INDEX notifications_blog_post ON notifications (blog_post_id) WHERE blog_post_id IS NOT NULL;
CREATE INDEX notifications_reaction ON notifications (reaction_id) WHERE reaction_id IS NOT NULL;
CREATE INDEX notifications_comment ON notifications (comment_id) WHERE comment_id IS NOT NULL;
CREATE INDEX notifications_actor ON notifications (actor_id) WHERE actor_id IS NOT NULL;
-- Retention scans by age; rows arrive in time order, so BRIN is tiny and cheap to keep.
CREATE INDEX notifications_created_brin ON notifications USING brin (created_at);

-- Hourly notification counts per (recipient, actor), for the flood limit.
-- actor_key is 'user:<id>' or, for anonymous actors, 'ip:<address>'. No
-- foreign key (that would cost every notification a lookup): retention drops
-- past hours, a purged user's included.
CREATE TABLE notification_rate_limits (
    user_id       integer NOT NULL,
    actor_key     text NOT NULL,
    hour          timestamptz NOT NULL,
    notifications integer NOT NULL,
    PRIMARY KEY (user_id, actor_key, hour)
);
CREATE INDEX notification_rate_limits_hour ON notification_rate_limits (hour);

-- The user's change stream: one row per committed change a client must see.
-- `seq` comes from notification_counters.last_seq, so it is gap-free per user
-- and grows in commit order. Clients resume with "everything after seq N".
-- Purged with the user's counter row by notification_counters_purge().
CREATE TABLE notification_events (
    user_id          integer NOT NULL,
    seq              bigint NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('created', 'updated', 'deleted', 'read', 'unread')),
    notification_ids uuid[] NOT NULL,
    unread_count     bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX notification_events_created_brin ON notification_events USING brin (created_at);
