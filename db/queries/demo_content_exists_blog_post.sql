-- demo_content_exists_blog_post: DEMO ONLY. Whether the blog_post exists.
SELECT 1 FROM blog_posts WHERE id = %(content_id)s
