-- Staff on the web: names, roles (admin | staff | auditor), the addresses an account may
-- send as, a TOTP app sealed by the master key, offboarding (successor, when), and
-- browser sessions. Partner domains with a TLS policy belong to the address book.

ALTER TABLE users ADD COLUMN name TEXT;
ALTER TABLE users ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]'; -- JSON list: addresses besides its own
ALTER TABLE users ADD COLUMN totp_secret BLOB;      -- sealed: the ciphertext...
ALTER TABLE users ADD COLUMN totp_wrapped BLOB;     -- ...and its wrapped data key
ALTER TABLE users ADD COLUMN totp_key_id TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN successor TEXT;        -- who takes over mail to a leaver
ALTER TABLE users ADD COLUMN offboarded_at INTEGER;
ALTER TABLE users ADD COLUMN expired_at INTEGER;   -- when a running server saw the end date pass

-- Signed-in staff (the cookie holds the token; only its hash is here). `stage` is
-- 'password' until the second factor is done, then 'full'.
CREATE TABLE staff_sessions (
    id_hash     TEXT PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,
    stage       TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
CREATE INDEX staff_sessions_email ON staff_sessions(email);

-- Partner domains kept in the address book, with what their mail needs.
CREATE TABLE partner_domains (
    domain      TEXT PRIMARY KEY COLLATE NOCASE,
    tls         TEXT NOT NULL,                   -- 'required' | 'dane'
    note        TEXT,
    created_at  INTEGER NOT NULL
);

CREATE INDEX audit_action ON audit(action);
CREATE INDEX messages_sender ON messages(auth_user);
CREATE INDEX vault_sender ON vault(sender);
