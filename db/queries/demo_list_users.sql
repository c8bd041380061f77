-- demo_list_users: DEMO ONLY. The demo panel's users.
SELECT id, handle, public_sqid, avatar_url FROM users ORDER BY id LIMIT 100
