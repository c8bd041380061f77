-- migration_bookkeeping_table: the schema of a yoyo table an older install left outside
-- notification_migrations (in the migrator's search_path), if there is one to move.
SELECT n.nspname
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE c.relname = %(table)s AND c.relkind = 'r'
   AND n.nspname = current_schema()
   AND n.nspname <> 'notification_migrations'
   AND NOT EXISTS (SELECT 1 FROM pg_class AS c2
                     JOIN pg_namespace AS n2 ON n2.oid = c2.relnamespace
                    WHERE c2.relname = %(table)s AND n2.nspname = 'notification_migrations')
