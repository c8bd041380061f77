-- demo_unreact_blog_post: DEMO ONLY. The host's own write: an un-react on a blog_post.
DELETE FROM blog_post_reactions WHERE id = %(source_id)s AND user_id = %(actor_id)s
