-- The secure portal: how a recipient proves who they are, what happened to each message,
-- browser sessions, registered TOTP apps, and audit entries with address and outcome.

ALTER TABLE vault ADD COLUMN phone TEXT;                -- E.164, for SMS codes
ALTER TABLE vault ADD COLUMN access_code TEXT;          -- JSON of the salted hash; never the code
ALTER TABLE vault ADD COLUMN email_code INTEGER NOT NULL DEFAULT 0; -- an e-mailed code alone is enough
ALTER TABLE vault ADD COLUMN login TEXT;                -- JSON of the login state machine
ALTER TABLE vault ADD COLUMN login_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vault ADD COLUMN status_token_hash TEXT;    -- the sender's status link
ALTER TABLE vault ADD COLUMN read_receipt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE vault ADD COLUMN opened_at INTEGER;
ALTER TABLE vault ADD COLUMN downloaded_at INTEGER;
ALTER TABLE vault ADD COLUMN replied_at INTEGER;
ALTER TABLE vault ADD COLUMN revoked_at INTEGER;
ALTER TABLE vault ADD COLUMN shredded_at INTEGER;       -- the wrapped key and ciphertext are gone
CREATE UNIQUE INDEX vault_status ON vault(status_token_hash);
CREATE INDEX vault_expiry ON vault(expires_at) WHERE shredded_at IS NULL;

-- Browser sessions of verified recipients (the cookie holds the token; only its hash is here).
CREATE TABLE portal_sessions (
    id_hash     TEXT PRIMARY KEY,
    vault_id    TEXT NOT NULL REFERENCES vault(id),
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX portal_sessions_vault ON portal_sessions(vault_id);

-- TOTP apps recipients registered (the secret sealed by the master key).
CREATE TABLE recipient_totp (
    address     TEXT PRIMARY KEY COLLATE NOCASE,
    secret      BLOB NOT NULL,          -- sealed: the ciphertext...
    wrapped     BLOB NOT NULL,          -- ...and its wrapped data key
    key_id      TEXT NOT NULL,
    last_step   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

-- Contacts: mobile numbers for SMS codes (the address book UI comes with staff pages).
CREATE TABLE contacts (
    address     TEXT PRIMARY KEY COLLATE NOCASE,
    name        TEXT,
    phone       TEXT,
    created_at  INTEGER NOT NULL
);

-- Audit entries say from which address and with which outcome.
ALTER TABLE audit ADD COLUMN ip TEXT;
ALTER TABLE audit ADD COLUMN outcome TEXT;

-- Retention: entries older than the cut-off may be removed (from the start, so the rest of
-- the chain stays verifiable); anything newer stays append-only.
CREATE TABLE audit_retention (cutoff INTEGER NOT NULL);
INSERT INTO audit_retention (cutoff) VALUES (0);
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN OLD.at >= (SELECT cutoff FROM audit_retention)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
