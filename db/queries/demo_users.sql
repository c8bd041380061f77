-- demo_users: the demo users, for printing a token and a link for each.
SELECT id, handle, public_sqid FROM users
 WHERE handle IN ('alice', 'bob', 'carol', 'dave', 'erin')
 ORDER BY id
