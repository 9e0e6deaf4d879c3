-- One table for every browser session (see ../migrations/0023_sessions.sql).
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('portal', 'staff')),
    subject    TEXT NOT NULL,
    stage      TEXT NOT NULL,
    factor     TEXT,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    ceremony   TEXT
);
CREATE INDEX sessions_subject ON sessions (kind, subject);
CREATE INDEX sessions_staff_email ON sessions (lower(subject)) WHERE kind = 'staff';

INSERT INTO sessions (id_hash, kind, subject, stage, factor, csrf, created_at, last_seen, ceremony)
    SELECT id_hash, 'portal', vault_id, 'full', factor, csrf, created_at, last_seen, NULL
      FROM portal_sessions;
INSERT INTO sessions (id_hash, kind, subject, stage, factor, csrf, created_at, last_seen, ceremony)
    SELECT id_hash, 'staff', email, stage, NULL, csrf, created_at, last_seen, ceremony
      FROM staff_sessions;
DROP TABLE portal_sessions;
DROP TABLE staff_sessions;
