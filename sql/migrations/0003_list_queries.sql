-- 0003_list_queries.sql: the indexes behind the list queries (sort, keyset
-- cursors, search).
--
-- Each sort of GET /api/v1/tasks reads one of these indexes in order,
-- from the cursor's (key, id) on: a deep page costs what the first does.
-- The event worker's sessions allow no sequential and no bitmap scan
-- (src/db.c, db_setup), so each shape needs an index it can walk.

CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at DESC, id DESC);
CREATE INDEX tasks_user_priority_idx ON tasks (user_id, priority DESC, id DESC);
-- A task without due_at sorts as if due at 'infinity': last by due_at,
-- first by -due_at.  The expression is what the statements order by.
CREATE INDEX tasks_user_due_idx
    ON tasks (user_id, (coalesce(due_at, 'infinity'::timestamptz)) DESC, id DESC);

-- q: full-text search over title and description.  'simple' splits words
-- and lowercases them without a language's stemming or stop words: task
-- titles are in any language.  The tsvector is a stored generated
-- column, so it is computed once per write, never per query.  Its index
-- is GiST, not GIN: GIN is read only by a bitmap scan, which the event
-- worker's sessions do not use, while GiST serves a plain index scan.
ALTER TABLE tasks ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig,
        title || ' ' || coalesce(description, ''))) STORED;
CREATE INDEX tasks_search_idx ON tasks USING gist (search);
