-- 0002_versions_idempotency.sql: row versions for ETags, and the stored
-- answers of creations retried with an Idempotency-Key.
--
-- version is the strong ETag of a row (doc/API.md "Conditional requests").
-- Every statement that changes what a row looks like adds one to it in the
-- same UPDATE, so a PATCH's "WHERE ... AND version = $n" is the check and
-- the write at once.  It is not updated_at: that one is only unique per
-- write because of greatest() in db.c, its text form would have to be
-- parsed back from the header, and a counter compares exactly.
-- A constant default makes these two ALTERs catalogue-only (no rewrite).

ALTER TABLE tasks ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD CONSTRAINT tasks_version_positive CHECK (version > 0);
ALTER TABLE users ADD CONSTRAINT users_version_positive CHECK (version > 0);

-- One row per Idempotency-Key of a creation that succeeded, written by the
-- statement that creates the row, so neither can exist without the other.
-- scope: the caller's user id for POST /api/v1/tasks, 'register' for
-- POST /api/v1/auth/register (no caller yet: the key alone).
-- The answer is kept as what cannot be derived from the request again: the
-- created row's id and creation time.  A repeat must carry the same body
-- (request_hash), and the rest of the representation is that body's, so
-- the replay is byte for byte the first answer, even after the task was
-- changed or deleted.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       smallint NOT NULL,
    location     text NOT NULL,
    resource_id  uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    replays      bigint NOT NULL DEFAULT 0,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key),
    CONSTRAINT idempotency_keys_key_len CHECK (octet_length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_key_ascii CHECK (key ~ '^[\x20-\x7e]+$'),
    CONSTRAINT idempotency_keys_hash_len CHECK (octet_length(request_hash) = 64)
);

-- The few expired rows each keyed creation removes (db.c, key_gc).
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
