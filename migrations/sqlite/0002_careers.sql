-- The Huntflow response platform: vacancies published by Huntflow, responses built from
-- HrFlow profiles, and their letters. Times are Unix milliseconds (UTC).
CREATE TABLE vacancies (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    fields          TEXT NOT NULL,               -- the whole publish/edit body, as JSON
    published       INTEGER NOT NULL DEFAULT 1,
    responses_count INTEGER NOT NULL DEFAULT 0,  -- kept with each insert: `found` costs nothing
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE responses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    vacancy_id  INTEGER NOT NULL REFERENCES vacancies(id),
    profile_key TEXT NOT NULL,
    item        TEXT NOT NULL,                   -- the response item, without id and created
    created_at  INTEGER NOT NULL,                -- when the first event for it was accepted
    updated_at  INTEGER NOT NULL,
    UNIQUE (vacancy_id, profile_key)
);
-- A page is one range scan of this index, however many responses the vacancy holds.
CREATE INDEX responses_page ON responses(vacancy_id, created_at DESC, id DESC);

CREATE TABLE letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    response_id INTEGER NOT NULL REFERENCES responses(id),
    ordinal     INTEGER NOT NULL,                -- its place in the mapping: updates keep ids
    type        TEXT NOT NULL,
    comment     TEXT NOT NULL,
    author      TEXT,                            -- JSON {name, email}, for recommendations
    created_at  INTEGER NOT NULL,
    UNIQUE (response_id, ordinal)
);
CREATE INDEX letters_page ON letters(response_id, created_at DESC, id DESC);
