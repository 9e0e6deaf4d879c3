-- The same queue indexes as SQLite's (see ../migrations/0025_queue_indexes.sql).
DROP INDEX messages_state;
CREATE INDEX messages_state ON messages (state, id);
DROP INDEX messages_unpurged;
CREATE INDEX messages_unpurged ON messages (state, received_at) WHERE purged_at IS NULL;
