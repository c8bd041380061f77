-- demo_comment_blog_post: DEMO ONLY. The host's own write: a comment on a blog_post.
INSERT INTO blog_post_comments (id, blog_post_id, author_id, body) VALUES (%(comment_id)s, %(content_id)s, %(actor_id)s, %(body)s)
