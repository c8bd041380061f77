-- demo_reply_blog_post: DEMO ONLY. "Reply" on a blog post, as demo_reply_post.sql.
INSERT INTO blog_post_comments (id, blog_post_id, author_id, body, parent_id, depth)
SELECT %(comment_id)s, c.blog_post_id, %(user_id)s, %(body)s, c.id, c.depth + 1
  FROM blog_post_comments AS c
 WHERE c.id = %(parent_id)s AND c.blog_post_id = %(content_id)s
RETURNING id
