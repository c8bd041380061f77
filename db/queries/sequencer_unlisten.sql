-- sequencer_unlisten: the new leader no longer needs to hear hand-overs.
UNLISTEN notifications_sequencer
