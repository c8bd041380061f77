-- demo_list_content: DEMO ONLY. The posts and blog posts the panel can react to.
SELECT 'post' AS content_type, p.id AS content_id, p.title, p.art_url, p.owner_id, u.handle AS owner_handle
  FROM posts p JOIN users u ON u.id = p.owner_id
UNION ALL
SELECT 'blog_post', b.id, b.title, NULL, b.owner_id, u.handle
  FROM blog_posts b JOIN users u ON u.id = b.owner_id
 ORDER BY content_type DESC, content_id
 LIMIT 200
