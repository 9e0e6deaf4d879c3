-- Received content kept in the database (see ../migrations/0024_inline_blobs.sql).
CREATE TABLE inline_blobs (
    name  TEXT PRIMARY KEY,
    data  BYTEA NOT NULL
);
