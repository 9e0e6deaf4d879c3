-- Who has sent the organisation mail before, by key (`addr:<address>`, `dkim:<domain>`,
-- `spf:<domain>`): a first-time sender is a note in the inbound verdict.
CREATE TABLE inbound_senders (
    key        TEXT PRIMARY KEY,
    first_at   INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    messages   INTEGER NOT NULL DEFAULT 1
);
