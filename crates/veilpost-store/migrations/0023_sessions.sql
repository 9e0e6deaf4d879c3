-- One table for every browser session, recipients' in the portal and staff members'
-- (until now `portal_sessions` and `staff_sessions`): one way of creating, touching,
-- ending and expiring them. The cookie holds the token; only its hash is here.
--   kind     'portal' (a verified recipient) or 'staff'
--   subject  portal: the vault entry's id; staff: the e-mail address ('' while an
--            OpenID Connect sign-in is under way)
--   stage    staff: 'password' (second factor next), 'oidc' or 'full'; portal: 'full'
--   factor   portal: how the recipient proved it ('sms', 'email', 'access_code', 'totp')
--   ceremony staff: the state of a passkey ceremony or an OpenID Connect flow
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('portal', 'staff')),
    subject     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    factor      TEXT,
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    ceremony    TEXT
);
CREATE INDEX sessions_subject ON sessions(kind, subject);
CREATE INDEX sessions_staff_email ON sessions(lower(subject)) WHERE kind = 'staff';

INSERT INTO sessions (id_hash, kind, subject, stage, factor, csrf, created_at, last_seen, ceremony)
    SELECT id_hash, 'portal', vault_id, 'full', factor, csrf, created_at, last_seen, NULL
      FROM portal_sessions;
INSERT INTO sessions (id_hash, kind, subject, stage, factor, csrf, created_at, last_seen, ceremony)
    SELECT id_hash, 'staff', email, stage, NULL, csrf, created_at, last_seen, ceremony
      FROM staff_sessions;
DROP TABLE portal_sessions;
DROP TABLE staff_sessions;
