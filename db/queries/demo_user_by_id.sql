-- demo_user_by_id: DEMO ONLY. A demo user to sign a token for.
SELECT id, public_sqid FROM users WHERE id = %(user_id)s
