-- 0001_init.sql: users and their tasks.
-- The CHECKs mirror src/api_limits.h; the application validates first,
-- the schema makes sure nothing else can write a row that breaks a rule.

CREATE TYPE task_status AS ENUM ('todo', 'in_progress', 'done', 'cancelled');
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high', 'critical');

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(email)),
    CONSTRAINT users_email_len CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_email_at CHECK (email LIKE '_%@_%'),
    CONSTRAINT users_name_len CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT users_hash_kind CHECK (password_hash LIKE '$argon2id$%')
);

-- Newest first, stable under ties.
CREATE INDEX users_created_idx ON users (created_at DESC, id DESC);

CREATE TABLE tasks (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text NOT NULL,
    description text,
    status      task_status NOT NULL DEFAULT 'todo',
    priority    task_priority NOT NULL DEFAULT 'medium',
    due_at      timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_title_len CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT tasks_description_len
        CHECK (description IS NULL OR char_length(description) <= 2000)
);

-- Every task query is "this user's tasks, newest first".
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at DESC, id DESC);
