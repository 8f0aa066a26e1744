-- Times are Unix milliseconds (UTC).
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    body_hash   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    profile_key TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    received_at INTEGER NOT NULL
);

-- One row per distinct body: the dedupe window is enforced by this key, not by memory.
CREATE TABLE event_dedupe (
    body_hash   TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL REFERENCES events(id),
    route           TEXT NOT NULL,
    profile_key     TEXT NOT NULL,
    source_key      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | filtered | dead
    step            TEXT NOT NULL DEFAULT 'new',      -- new | fetched | pushed | enriched
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    lease_owner     TEXT,
    profile         TEXT,                             -- checkpoint: the fetched profile
    reason          TEXT,                             -- why filtered / dead / last retry
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX jobs_route_profile ON jobs(route, profile_key, status);
CREATE INDEX jobs_status ON jobs(status, updated_at);

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      INTEGER NOT NULL REFERENCES jobs(id),
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    step        TEXT NOT NULL,
    http_status INTEGER,
    outcome     TEXT NOT NULL,                        -- delivered | filtered | retry | dead
    error       TEXT
);
CREATE INDEX attempts_job ON attempts(job_id);

-- The push-once rule: one row per (route, profile). `sending` means a push went out whose
-- outcome is unknown until `pushed` is written.
CREATE TABLE pushes (
    route       TEXT NOT NULL,
    profile_key TEXT NOT NULL,
    state       TEXT NOT NULL,
    job_id      INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (route, profile_key)
);
