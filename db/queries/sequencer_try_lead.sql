-- sequencer_try_lead: become this database's sequencer, or learn that another session is.
-- A session-level lock: it is released when the leader's connection ends, however it ends.
SELECT pg_try_advisory_lock(7957654591838347570)
