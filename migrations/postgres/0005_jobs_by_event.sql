-- Deleting an event (retention, erasure) makes the database look for jobs that still refer to
-- it: without this index, a full scan of the jobs per event.
CREATE INDEX jobs_event ON jobs(event_id);
