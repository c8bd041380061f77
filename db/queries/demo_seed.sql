-- demo_seed: the demo's users, artwork posts and blog posts. Idempotent: run on every
-- `notifications serve --demo`; rows are matched by handle or public_sqid.
INSERT INTO users (handle, public_sqid, avatar_url) VALUES
    ('alice', 'alice01', NULL), ('bob', 'bob01', NULL), ('carol', 'carol01', NULL),
    ('dave', 'dave01', NULL), ('erin', 'erin01', NULL)
ON CONFLICT (handle) DO NOTHING;

INSERT INTO posts (owner_id, public_sqid, title, art_url)
SELECT u.id, p.sqid, p.title, p.art_url
  FROM (VALUES ('alice', 'p-alice-1', 'Sunset over the bay', '/web/demo-art/sunset.png'),
               ('alice', 'p-alice-2', 'Fox in the snow', '/web/demo-art/fox.png'),
               ('bob', 'p-bob-1', 'City at night', '/web/demo-art/city.png'),
               ('carol', 'p-carol-1', 'Still life with pears', '/web/demo-art/pears.png'))
       AS p (handle, sqid, title, art_url)
  JOIN users u ON u.handle = p.handle
ON CONFLICT (public_sqid) DO NOTHING;

INSERT INTO blog_posts (owner_id, public_sqid, title, body)
SELECT u.id, b.sqid, b.title, b.body
  FROM (VALUES ('alice', 'b-alice-1', 'How I paint skies', 'Layers, patience, and a lot of blue.'),
               ('bob', 'b-bob-1', 'Night photography tips', 'A tripod and a slow shutter.'))
       AS b (handle, sqid, title, body)
  JOIN users u ON u.handle = b.handle
ON CONFLICT (public_sqid) DO NOTHING;
