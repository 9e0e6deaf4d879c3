-- The object store's blob key, wrapped by the master key (see
-- ../migrations/0022_blob_keys.sql).
CREATE TABLE blob_keys (
    id       TEXT PRIMARY KEY,
    wrapped  BYTEA NOT NULL,
    key_id   TEXT NOT NULL
);
