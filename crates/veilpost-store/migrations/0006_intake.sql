-- The secure contact form: a patient verifies an e-mail address with a code, then writes
-- (with attachments) to the organisation's mailbox. One row per attempt.
CREATE TABLE intake (
    id            TEXT PRIMARY KEY,      -- 128 random bits, hex: the form's URL
    email         TEXT NOT NULL,
    login         TEXT NOT NULL,         -- JSON of the login state machine (e-mailed code)
    login_version INTEGER NOT NULL DEFAULT 0,
    session_hash  TEXT,                  -- SHA-256 of the browser's session token once verified
    csrf          TEXT,
    created_at    INTEGER NOT NULL,
    verified_at   INTEGER,
    submitted_at  INTEGER,
    message_id    TEXT                   -- what was spooled
);
CREATE INDEX intake_created ON intake(created_at);
