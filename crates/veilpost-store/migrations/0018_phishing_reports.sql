-- Phishing reported by staff to the report address (issue 18, point 6): the report kept
-- sealed (context `report:<id>`), what it says about the original, and the inbound
-- message it was linked to by Message-ID.
CREATE TABLE phishing_reports (
    id                TEXT PRIMARY KEY,
    reported_at       INTEGER NOT NULL,
    reporter          TEXT NOT NULL,
    shape             TEXT NOT NULL,
    original_id       TEXT,
    sender            TEXT,
    verdict           TEXT,
    linked_message    TEXT,
    blob              TEXT NOT NULL,
    sealed_key        BLOB NOT NULL,
    handled_at        INTEGER,
    handled_by        TEXT
);
CREATE INDEX phishing_reports_new ON phishing_reports(handled_at, reported_at);

-- Senders and domains an administrator blocked: their mail is refused at the listener.
CREATE TABLE inbound_blocks (
    value      TEXT PRIMARY KEY,
    added_at   INTEGER NOT NULL,
    added_by   TEXT NOT NULL
);

-- The Message-ID of inbound mail and the verdict it got, to find what a report is about
-- (the content itself leaves the spool once delivered).
ALTER TABLE messages ADD COLUMN header_message_id TEXT;
ALTER TABLE messages ADD COLUMN inbound_verdict TEXT;
CREATE INDEX messages_header_message_id ON messages(header_message_id);
