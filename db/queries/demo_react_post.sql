-- demo_react_post: DEMO ONLY. The host's own write: a reaction to a post.
INSERT INTO reactions (post_id, user_id, emoji) VALUES (%(content_id)s, %(actor_id)s, %(emoji)s)
