-- Policy settings an administrator changed on the web (they win over veilpost.toml until
-- changed again): the double-check rules and the answer to a leaver's mail.
CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,          -- JSON
    updated_at  INTEGER NOT NULL,
    updated_by  TEXT NOT NULL
);
