-- Times are Unix milliseconds (UTC). The same tables as migrations/sqlite.
CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    body_hash   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    profile_key TEXT NOT NULL,
    source_key  TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE TABLE event_dedupe (
    body_hash   TEXT PRIMARY KEY,
    event_id    TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events(id),
    route           TEXT NOT NULL,
    profile_key     TEXT NOT NULL,
    source_key      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    step            TEXT NOT NULL DEFAULT 'new',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    lease_owner     TEXT,
    profile         TEXT,
    reason          TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX jobs_route_profile ON jobs(route, profile_key, status);
CREATE INDEX jobs_status ON jobs(status, updated_at);

CREATE TABLE attempts (
    id          BIGSERIAL PRIMARY KEY,
    job_id      BIGINT NOT NULL REFERENCES jobs(id),
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    step        TEXT NOT NULL,
    http_status BIGINT,
    outcome     TEXT NOT NULL,
    error       TEXT
);
CREATE INDEX attempts_job ON attempts(job_id);

CREATE TABLE pushes (
    route       TEXT NOT NULL,
    profile_key TEXT NOT NULL,
    state       TEXT NOT NULL,
    job_id      BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (route, profile_key)
);
