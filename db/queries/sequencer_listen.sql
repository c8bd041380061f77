-- sequencer_listen: a standby hears the leader hand over (sequencer_hand_over) at once.
LISTEN notifications_sequencer
