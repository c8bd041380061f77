-- demo_content_exists_post: DEMO ONLY. Whether the post exists.
SELECT 1 FROM posts WHERE id = %(content_id)s
