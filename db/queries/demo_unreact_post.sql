-- demo_unreact_post: DEMO ONLY. The host's own write: an un-react on a post.
DELETE FROM reactions WHERE id = %(source_id)s AND user_id = %(actor_id)s
