-- 0004_search_gin.sql: q served by a GIN index.
--
-- The GiST index of 0003 is lossy on a tsvector: every search read a
-- large part of it and rechecked the rows (636 ms p99 for a word in one
-- task of 1000, at 1,000,000 tasks of one user).  GIN finds the rows of
-- a word from its posting list; PostgreSQL reads it only by a bitmap
-- scan.
DROP INDEX tasks_search_idx;
CREATE INDEX tasks_search_idx ON tasks USING gin (search);

-- The user's tasks holding the words, found by the GIN index.  The event
-- worker's sessions turn bitmap scans off (src/db.c, db_setup), so that
-- every list statement walks a btree whatever the statistics; this
-- function turns them back on for its one query only (a SET clause holds
-- for the call), and the search statements (src/list_sql.h) call it when
-- the words are too rare to be met by walking the sort's index.
-- PL/pgSQL plans the query once per session and keeps it.
CREATE FUNCTION tasks_matching(owner uuid, words text) RETURNS SETOF tasks
    LANGUAGE plpgsql STABLE ROWS 1000
    SET enable_bitmapscan = on
AS $$
BEGIN
    RETURN QUERY SELECT * FROM tasks t WHERE t.user_id = owner
        AND t.search @@ websearch_to_tsquery('simple'::regconfig, words);
END
$$;
