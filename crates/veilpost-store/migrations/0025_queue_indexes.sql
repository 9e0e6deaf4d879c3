-- The processing queue is taken in id (arrival) order straight from an index (it was
-- sorted whole for every claim), and the purge finds the unpurged processed messages
-- without walking every processed message ever kept for the trace (it walked them all,
-- and sorted them, every second).
DROP INDEX messages_state;
CREATE INDEX messages_state ON messages(state, id);
DROP INDEX messages_unpurged;
CREATE INDEX messages_unpurged ON messages(state, received_at) WHERE purged_at IS NULL;
