-- Retries by an operator: a job's run starts at 1 and grows with each retry; every attempt
-- records the run it belonged to, so the earlier runs' attempts stay visible, marked as such.
ALTER TABLE jobs ADD COLUMN run BIGINT NOT NULL DEFAULT 1;
ALTER TABLE attempts ADD COLUMN run BIGINT NOT NULL DEFAULT 1;
