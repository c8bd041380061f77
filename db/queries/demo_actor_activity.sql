-- demo_actor_activity: DEMO ONLY. What one actor did lately, so the panel can offer to undo it.
SELECT * FROM (
    SELECT 'reaction' AS kind, 'post' AS content_type, r.id::text AS source_id, p.title,
           r.emoji AS detail, r.created_at
      FROM reactions r JOIN posts p ON p.id = r.post_id WHERE r.user_id = %(actor_id)s
    UNION ALL
    SELECT 'reaction', 'blog_post', r.id::text, b.title, r.emoji, r.created_at
      FROM blog_post_reactions r JOIN blog_posts b ON b.id = r.blog_post_id WHERE r.user_id = %(actor_id)s
    UNION ALL
    SELECT 'comment', 'post', c.id::text, p.title, c.body, c.created_at
      FROM comments c JOIN posts p ON p.id = c.post_id
     WHERE c.author_id = %(actor_id)s AND NOT (c.deleted_by_owner OR c.deleted_by_mod OR c.hidden_by_mod)
    UNION ALL
    SELECT 'comment', 'blog_post', c.id::text, b.title, c.body, c.created_at
      FROM blog_post_comments c JOIN blog_posts b ON b.id = c.blog_post_id
     WHERE c.author_id = %(actor_id)s AND NOT (c.deleted_by_owner OR c.deleted_by_mod OR c.hidden_by_mod)
) activity
ORDER BY created_at DESC
LIMIT 20
