-- Reverse DNS of the sources in DMARC reports, looked up in the background (never while a
-- page waits); an address without a name is kept with '' so it is not asked again soon.
CREATE TABLE ip_names (
    ip         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    looked_at  INTEGER NOT NULL
);
