-- user_id_by_sqid: resolve a token's `sub` (the user's public_sqid) to users.id.
SELECT id FROM users WHERE public_sqid = %(sqid)s
