-- migration_blockers: other sessions holding a lock on a table a migration must alter (ours
-- and the host's tables our triggers attach to), oldest transaction first: what it waited for.
SELECT a.pid, coalesce(nullif(a.application_name, ''), '?') AS application, a.state,
       round(extract(epoch FROM now() - a.xact_start)::numeric, 1) AS xact_seconds,
       string_agg(DISTINCT c.relname || ' ' || l.mode, ', ') AS locks
  FROM pg_locks AS l
  JOIN pg_class AS c ON c.oid = l.relation
  JOIN pg_stat_activity AS a ON a.pid = l.pid
 WHERE l.granted AND l.pid <> pg_backend_pid()
   AND (c.relname LIKE 'notification%%'
        OR c.relname IN ('users', 'posts', 'blog_posts', 'reactions', 'blog_post_reactions',
                         'comments', 'blog_post_comments', 'user_blocks'))
 GROUP BY a.pid, a.application_name, a.state, a.xact_start
 ORDER BY a.xact_start NULLS LAST
