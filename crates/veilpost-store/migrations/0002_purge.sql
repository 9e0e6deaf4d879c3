-- Message content leaves the spool once every recipient is done with it (delivered,
-- failed, handed to the portal vault or blocked): the rows stay for the trace and audit.
ALTER TABLE messages ADD COLUMN purged_at INTEGER;
CREATE INDEX messages_unpurged ON messages(received_at) WHERE purged_at IS NULL;
