-- demo_react_back: DEMO ONLY. The host's own write for "React back": the user reacts with
-- an emoji to the actor's newest artwork (which notifies the actor). No row when the actor
-- has none.
INSERT INTO reactions (post_id, user_id, emoji)
SELECT p.id, %(user_id)s, %(emoji)s
  FROM posts AS p
 WHERE p.owner_id = %(actor_id)s
 ORDER BY p.id DESC
 LIMIT 1
RETURNING post_id
