-- DMARC aggregate and TLS-RPT reports (issue 19): one row per report counted, its rows
-- normalised beside it, and what was set aside with the reason.
CREATE TABLE auth_reports (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,            -- dmarc | tlsrpt
    report_key   TEXT NOT NULL,            -- reporter + report id (+ domain): one count each
    reporter     TEXT NOT NULL,
    contact      TEXT NOT NULL,
    report_id    TEXT NOT NULL,
    domain       TEXT NOT NULL,            -- DMARC: the policy's; TLS-RPT: the first policy's
    begin_at     INTEGER NOT NULL,
    end_at       INTEGER NOT NULL,
    policy       TEXT NOT NULL,            -- DMARC p= as the reporter saw it
    received_at  INTEGER NOT NULL,
    via          TEXT NOT NULL             -- mail | import | https
);
CREATE UNIQUE INDEX auth_reports_key ON auth_reports(report_key);
CREATE INDEX auth_reports_end ON auth_reports(end_at);

CREATE TABLE dmarc_rows (
    report        TEXT NOT NULL REFERENCES auth_reports(id) ON DELETE CASCADE,
    domain        TEXT NOT NULL,
    begin_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL,
    reporter      TEXT NOT NULL,
    source_ip     TEXT NOT NULL,           -- '' when the reporter left it out
    count         INTEGER NOT NULL,
    disposition   TEXT NOT NULL,
    spf_aligned   INTEGER NOT NULL,
    dkim_aligned  INTEGER NOT NULL,
    header_from   TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    dkim_domain   TEXT NOT NULL,
    dkim_selector TEXT NOT NULL,
    dkim_result   TEXT NOT NULL,
    spf_domain    TEXT NOT NULL,
    spf_result    TEXT NOT NULL,
    auth          TEXT NOT NULL            -- every DKIM and SPF result, JSON
);
CREATE INDEX dmarc_rows_domain ON dmarc_rows(domain, end_at);
CREATE INDEX dmarc_rows_report ON dmarc_rows(report);

CREATE TABLE tls_rows (
    report        TEXT NOT NULL REFERENCES auth_reports(id) ON DELETE CASCADE,
    domain        TEXT NOT NULL,
    begin_at      INTEGER NOT NULL,
    end_at        INTEGER NOT NULL,
    reporter      TEXT NOT NULL,
    policy_type   TEXT NOT NULL,
    mx            TEXT NOT NULL,           -- '' on a policy's summary row
    result_type   TEXT NOT NULL,           -- '' on a policy's summary row
    sending_ip    TEXT NOT NULL,
    successes     INTEGER NOT NULL,
    failures      INTEGER NOT NULL
);
CREATE INDEX tls_rows_domain ON tls_rows(domain, end_at);
CREATE INDEX tls_rows_report ON tls_rows(report);

-- Never lost, never counted: the reason, what could be read, and the input itself
-- (not for a duplicate: that one is counted already).
CREATE TABLE reports_aside (
    id           TEXT PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    via          TEXT NOT NULL,
    origin       TEXT NOT NULL,            -- the file name, the sender, the client
    reason       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    kind         TEXT NOT NULL,            -- dmarc | tlsrpt | '' (unreadable)
    reporter     TEXT NOT NULL,
    report_id    TEXT NOT NULL,
    domain       TEXT NOT NULL,
    raw          BLOB
);
CREATE INDEX reports_aside_received ON reports_aside(received_at);
