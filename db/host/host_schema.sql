-- The host application's tables, exactly as CONTRACT.md §1 describes them.
-- Used by the tests and by `notifications serve --demo` ONLY: production
-- already has these tables, so they are deliberately not a migration.
-- Every statement is idempotent so the demo can run it on every start.

CREATE TABLE IF NOT EXISTS users (
    id             serial PRIMARY KEY,
    public_sqid    varchar(16) UNIQUE NULL,
    handle         varchar(50) UNIQUE NOT NULL,
    avatar_url     varchar(500) NULL,
    email          varchar(255) UNIQUE NULL,
    email_verified boolean NOT NULL DEFAULT false
);
-- A demo database made before the contract had them.
ALTER TABLE users ADD COLUMN IF NOT EXISTS email varchar(255) UNIQUE NULL,
                  ADD COLUMN IF NOT EXISTS email_verified boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS posts (
    id          serial PRIMARY KEY,
    public_sqid varchar(16) UNIQUE NULL,
    owner_id    int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       varchar(128) NOT NULL,
    art_url     varchar(1000) NULL
);

CREATE TABLE IF NOT EXISTS blog_posts (
    id          serial PRIMARY KEY,
    public_sqid varchar(16) UNIQUE NULL,
    owner_id    int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       varchar(200) NOT NULL,
    body        text NOT NULL
);

CREATE TABLE IF NOT EXISTS reactions (
    id          serial PRIMARY KEY,
    post_id     int NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id     int NULL REFERENCES users (id) ON DELETE CASCADE,
    user_ip     varchar(45) NULL,
    emoji       varchar(20) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS blog_post_reactions (
    id            serial PRIMARY KEY,
    blog_post_id  int NOT NULL REFERENCES blog_posts (id) ON DELETE CASCADE,
    user_id       int NULL REFERENCES users (id) ON DELETE CASCADE,
    user_ip       varchar(45) NULL,
    emoji         varchar(20) NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS comments (
    id               uuid PRIMARY KEY,
    post_id          int NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    author_id        int NULL REFERENCES users (id) ON DELETE CASCADE,
    author_ip        varchar(45) NULL,
    parent_id        uuid NULL REFERENCES comments (id) ON DELETE CASCADE,
    depth            int NOT NULL DEFAULT 0,
    body             text NOT NULL,
    hidden_by_mod    boolean NOT NULL DEFAULT false,
    deleted_by_owner boolean NOT NULL DEFAULT false,
    deleted_by_mod   boolean NOT NULL DEFAULT false,
    original_body    text NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NULL
);

CREATE TABLE IF NOT EXISTS blog_post_comments (
    id               uuid PRIMARY KEY,
    blog_post_id     int NOT NULL REFERENCES blog_posts (id) ON DELETE CASCADE,
    author_id        int NULL REFERENCES users (id) ON DELETE CASCADE,
    author_ip        varchar(45) NULL,
    parent_id        uuid NULL REFERENCES blog_post_comments (id) ON DELETE CASCADE,
    depth            int NOT NULL DEFAULT 0,
    body             text NOT NULL,
    hidden_by_mod    boolean NOT NULL DEFAULT false,
    deleted_by_owner boolean NOT NULL DEFAULT false,
    deleted_by_mod   boolean NOT NULL DEFAULT false,
    original_body    text NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NULL
);

CREATE TABLE IF NOT EXISTS user_blocks (
    id          serial PRIMARY KEY,
    blocker_id  int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id  int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    UNIQUE (blocker_id, blocked_id)
);
