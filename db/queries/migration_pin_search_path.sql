-- migration_pin_search_path: the migration session's search_path, with pg_temp last. Our
-- functions capture it (SET search_path FROM CURRENT), so a host's temporary table can
-- never stand in for one of ours in any session.
SELECT set_config('search_path',
                  CASE WHEN current_setting('search_path') ~ '(^|,)\s*pg_temp\s*(,|$)'
                       THEN current_setting('search_path')
                       ELSE current_setting('search_path') || ', pg_temp' END, false)
