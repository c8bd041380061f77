-- demo_comment_post: DEMO ONLY. The host's own write: a comment on a post.
INSERT INTO comments (id, post_id, author_id, body) VALUES (%(comment_id)s, %(content_id)s, %(actor_id)s, %(body)s)
