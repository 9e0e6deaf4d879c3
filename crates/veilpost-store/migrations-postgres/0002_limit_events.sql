-- Rate-limit hits and staff sign-in failures shared by the nodes (see
-- ../migrations/0021_limit_events.sql).
CREATE TABLE limit_events (
    bucket   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    key      TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX limit_events_subject ON limit_events (bucket, subject, at);
CREATE INDEX limit_events_at ON limit_events (at);
