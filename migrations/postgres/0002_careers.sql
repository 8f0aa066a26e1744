CREATE TABLE vacancies (
    id              BIGSERIAL PRIMARY KEY,
    fields          TEXT NOT NULL,
    published       BIGINT NOT NULL DEFAULT 1,
    responses_count BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE responses (
    id          BIGSERIAL PRIMARY KEY,
    vacancy_id  BIGINT NOT NULL REFERENCES vacancies(id),
    profile_key TEXT NOT NULL,
    item        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (vacancy_id, profile_key)
);
CREATE INDEX responses_page ON responses(vacancy_id, created_at DESC, id DESC);

CREATE TABLE letters (
    id          BIGSERIAL PRIMARY KEY,
    response_id BIGINT NOT NULL REFERENCES responses(id),
    ordinal     BIGINT NOT NULL,
    type        TEXT NOT NULL,
    comment     TEXT NOT NULL,
    author      TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (response_id, ordinal)
);
CREATE INDEX letters_page ON letters(response_id, created_at DESC, id DESC);
