-- The key the object store's blobs are sealed with, wrapped by the master key (context
-- `blob-key:<id>`), so that a master-key rotation re-wraps it and leaves every object as
-- it is. `key_id` names the master key that wrapped it.
CREATE TABLE blob_keys (
    id       TEXT PRIMARY KEY,
    wrapped  BLOB NOT NULL,
    key_id   TEXT NOT NULL
);
