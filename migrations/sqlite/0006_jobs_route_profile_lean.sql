-- A job's status changes when it ends; with status in this index, every delivery rewrote an
-- index page for it. The jobs of one route and profile are few, so the status is read from
-- the row.
DROP INDEX jobs_route_profile;
CREATE INDEX jobs_route_profile ON jobs(route, profile_key);
