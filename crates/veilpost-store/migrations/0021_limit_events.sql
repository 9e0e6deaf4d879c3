-- Rate-limit hits and staff sign-in failures, kept here when several nodes share one
-- database (PostgreSQL), so that N nodes do not give a guesser N budgets. `subject` is
-- the key a limit counts (an address, a recipient, an account), `key` the client address
-- of a sign-in failure ('' otherwise).
CREATE TABLE limit_events (
    bucket   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    key      TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX limit_events_subject ON limit_events(bucket, subject, at);
CREATE INDEX limit_events_at ON limit_events(at);
