-- Sync: each source's watermark and last pass, as the status page shows them. Times are Unix
-- milliseconds; the watermark is the day (UTC, YYYY-MM-DD) the last complete pass started.
CREATE TABLE sync_sources (
    source_key      TEXT PRIMARY KEY,
    watermark       TEXT,
    last_started_at INTEGER,
    last_ended_at   INTEGER,
    last_listed     INTEGER NOT NULL DEFAULT 0,
    last_queued     INTEGER NOT NULL DEFAULT 0,
    last_found      INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
-- One pass at a time for the whole deployment: the holder's lease, and when the next is due.
CREATE TABLE sync_lease (
    id              INTEGER PRIMARY KEY,
    holder          TEXT,
    lease_until     INTEGER,
    next_due        INTEGER NOT NULL,
    last_started_at INTEGER
);
