-- Live relay processes: each heartbeats here, and divides the deployment's Flatchr rate by
-- how many are live.
CREATE TABLE replicas (
    id        TEXT PRIMARY KEY,
    last_seen BIGINT NOT NULL
);
