-- demo_delete_comment_post: DEMO ONLY. The host never DELETEs a comment: its author "deletes" it
-- by keeping the text aside (post).
UPDATE comments SET deleted_by_owner = true, original_body = body, body = %(tombstone)s, updated_at = now() WHERE id = %(source_id)s AND author_id = %(actor_id)s AND NOT deleted_by_owner
