-- The operator's console. Times are Unix milliseconds (UTC).
-- The events log: every event received, whatever became of it. Accepted events were rows
-- already; duplicates (naming the event that holds their body) and ignored events (with why)
-- are rows too. An event that named no profile or source keeps '' there.
ALTER TABLE events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'accepted';
ALTER TABLE events ADD COLUMN reason TEXT;
ALTER TABLE events ADD COLUMN original_id TEXT;
CREATE INDEX events_received ON events(received_at);
CREATE INDEX events_profile ON events(profile_key, received_at);
-- A profile's jobs (search, timeline, erasure) and a (route, profile)'s (push-once, backfill):
-- one index serves both, where (route, profile) served only the second.
DROP INDEX jobs_route_profile;
CREATE INDEX jobs_profile_route ON jobs(profile_key, route);
-- A keyed hash of the candidate's email, set when the profile is fetched: finding a candidate
-- by email without keeping the email. Erased with the job.
ALTER TABLE jobs ADD COLUMN email_hash TEXT;
CREATE INDEX jobs_email ON jobs(email_hash) WHERE email_hash IS NOT NULL;
-- Paused routes: their jobs stay pending and out of the due index until resumed, so a claim
-- never walks past them.
CREATE TABLE route_pauses (
    route     TEXT PRIMARY KEY,
    paused_at BIGINT NOT NULL
);
ALTER TABLE jobs ADD COLUMN paused BIGINT NOT NULL DEFAULT 0;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs(next_attempt_at, id) WHERE status = 'pending' AND paused = 0;
CREATE INDEX jobs_paused ON jobs(route) WHERE paused = 1;
