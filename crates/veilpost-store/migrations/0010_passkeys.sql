-- Passkeys (WebAuthn) as the staff's second factor, beside TOTP; the state of a passkey
-- registration or sign-in in progress is kept with the half-way session.

CREATE TABLE staff_passkeys (
    id          INTEGER PRIMARY KEY,
    email       TEXT NOT NULL COLLATE NOCASE,
    cred_id     TEXT NOT NULL UNIQUE,   -- the credential id (JSON string, base64url)
    passkey     TEXT NOT NULL,          -- JSON: public key and signature counter
    created_at  INTEGER NOT NULL,
    last_used   INTEGER
);
CREATE INDEX staff_passkeys_email ON staff_passkeys(email);

ALTER TABLE staff_sessions ADD COLUMN ceremony TEXT;     -- JSON state of a passkey ceremony
