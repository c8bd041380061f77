-- demo_reply_post: DEMO ONLY. The host's own write for "Reply": the user's comment under
-- another comment on the same post. No row when that comment is not on that post.
INSERT INTO comments (id, post_id, author_id, body, parent_id, depth)
SELECT %(comment_id)s, c.post_id, %(user_id)s, %(body)s, c.id, c.depth + 1
  FROM comments AS c
 WHERE c.id = %(parent_id)s AND c.post_id = %(content_id)s
RETURNING id
