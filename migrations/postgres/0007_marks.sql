-- Keys the relay makes once and keeps here, the same for every replica and across restarts:
-- `csrf` keys the status page's CSRF tokens, `marks` the records below.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Push once per (route, profile), in a form that identifies no one: `mark` is a keyed hash of
-- the route and the profile key, so the record outlives an erasure of the candidate (a later
-- event enriches, never pushes again). It replaces `pushes`, whose rows become marks when a
-- process starts with no other running; while an older version may run beside this one they
-- stay, and a slot free here is looked up there too.
CREATE TABLE push_marks (
    mark       TEXT PRIMARY KEY,
    state      TEXT NOT NULL,   -- sending | pushed
    job_id     BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- An erased candidate's careers response, by a keyed hash of vacancy and profile key: a later
-- event brings the response back under its old id and date, so Huntflow sees one it has.
CREATE TABLE response_marks (
    mark        TEXT PRIMARY KEY,
    response_id BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
-- Purging dedupe keys past the window is a range of this index, not a scan of the table.
CREATE INDEX event_dedupe_received ON event_dedupe(received_at);
