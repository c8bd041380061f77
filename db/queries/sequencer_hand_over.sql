-- sequencer_hand_over: a leader stopping on purpose frees the lead and says so, so a
-- standby takes over now rather than at its next retry. Unlocked within the statement,
-- announced at its commit: a standby woken by the notice finds the lock free.
SELECT pg_advisory_unlock(7957654591838347570), pg_notify('notifications_sequencer', 'free')
