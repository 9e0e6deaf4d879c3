-- Staff accounts (SMTP AUTH, later the web).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'staff',
    disabled      INTEGER NOT NULL DEFAULT 0,
    valid_until   TEXT,                 -- YYYY-MM-DD: the last day the account works
    created_at    INTEGER NOT NULL,
    disabled_at   INTEGER
);

-- Every message Veilpost accepted (spooled before "250") or made (notifications, DSNs).
CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    origin        TEXT NOT NULL,        -- submission | relay | notification | dsn
    mail_from     TEXT NOT NULL,
    auth_user     TEXT,
    client_ip     TEXT,
    size          INTEGER NOT NULL,
    blob          TEXT NOT NULL,        -- the message as received
    out_blob      TEXT,                 -- as delivered (signed, tag stripped)
    state         TEXT NOT NULL,        -- received | processing | processed
    lease_until   INTEGER NOT NULL DEFAULT 0,
    verdict       TEXT,                 -- clean | sensitive | error
    findings      TEXT,                 -- JSON
    processed_at  INTEGER
);
CREATE INDEX messages_state ON messages(state, lease_until);

-- One row per envelope recipient: the policy decision and the delivery state.
CREATE TABLE recipients (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT NOT NULL REFERENCES messages(id),
    address         TEXT NOT NULL,
    route           TEXT,               -- plain | tls | portal | block
    reasons         TEXT,               -- JSON list of strings
    state           TEXT NOT NULL,      -- new | queued | delivered | failed | portal | blocked
    blob            TEXT,               -- content for this recipient when not the message's
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    delay_notified  INTEGER NOT NULL DEFAULT 0,
    done_at         INTEGER
);
CREATE INDEX recipients_due ON recipients(state, next_attempt_at);
CREATE INDEX recipients_message ON recipients(message_id);

-- Messages kept for the portal, encrypted with a per-message key wrapped by the master key.
CREATE TABLE vault (
    id            TEXT PRIMARY KEY,
    message_id    TEXT NOT NULL REFERENCES messages(id),
    recipient     TEXT NOT NULL,
    sender        TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE, -- SHA-256 of the link token, hex
    blob          TEXT NOT NULL,        -- ciphertext
    wrapped_key   BLOB NOT NULL,
    key_id        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'notified'
);

-- MTA-STS policies by domain (RFC 8461 §5: kept across restarts).
CREATE TABLE mta_sts (
    domain        TEXT PRIMARY KEY,
    id            TEXT NOT NULL,
    mode          TEXT NOT NULL,
    mx            TEXT NOT NULL,        -- JSON list of patterns
    max_age       INTEGER NOT NULL,
    fetched_at    INTEGER NOT NULL
);

-- One-time tokens (the first admin login).
CREATE TABLE setup_tokens (
    token_hash    TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    used_at       INTEGER
);

-- Append-only audit log (NTA 7516 / NEN 7513): who, what, when.
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    subject       TEXT,
    detail        TEXT
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
