-- Credentials a destination keeps (Huntflow's single-use token pairs): the newest pair, shared
-- by every replica and restart, which config pair it descends from (a hash), and who holds the
-- right to refresh it. Times are Unix milliseconds.
CREATE TABLE credentials (
    name        TEXT PRIMARY KEY,
    access      TEXT NOT NULL,
    refresh     TEXT NOT NULL,
    origin      TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    lock_holder TEXT,
    lock_until  BIGINT
);
-- What a destination created upstream for a (route, profile): Huntflow's applicant id, so a
-- later attempt attaches it instead of creating another.
ALTER TABLE push_marks ADD COLUMN upstream_id TEXT;
-- What a destination said of an attempt beyond its outcome (Huntflow's possible duplicates).
ALTER TABLE attempts ADD COLUMN note TEXT;
