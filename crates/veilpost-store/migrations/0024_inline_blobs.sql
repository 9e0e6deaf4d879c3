-- Received content small enough to live in the database (a blob name ending in `.i`):
-- written in the spooling message's own group commit, so one fsync of the log makes a
-- whole group of messages durable instead of two fsyncs (file and directory) each.
-- Removed with the rest of the message's content once it is delivered.
CREATE TABLE inline_blobs (
    name  TEXT PRIMARY KEY,
    data  BLOB NOT NULL
);
