-- demo_react_blog_post: DEMO ONLY. The host's own write: a reaction to a blog_post.
INSERT INTO blog_post_reactions (blog_post_id, user_id, emoji) VALUES (%(content_id)s, %(actor_id)s, %(emoji)s)
