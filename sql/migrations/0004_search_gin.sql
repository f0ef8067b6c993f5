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
--
-- The owner is tested on the rows the GIN index found, not by an index:
-- with bitmap scans on, a generic plan (which does not know how many
-- tasks the owner has) ANDs the GIN bitmap with a bitmap of all the
-- owner's tasks from a btree, 165 ms of 173 for one user of 200,000
-- tasks.  (OFFSET 0 keeps the inner select apart.)  So a word is as
-- cheap as its rows in the whole table, other users' included.
CREATE FUNCTION tasks_matching(owner uuid, words text) RETURNS SETOF tasks
    LANGUAGE plpgsql STABLE ROWS 1000
    SET enable_bitmapscan = on
AS $$
BEGIN
    RETURN QUERY SELECT * FROM (SELECT * FROM tasks t
        WHERE t.search @@ websearch_to_tsquery('simple'::regconfig, words)
        OFFSET 0) m WHERE m.user_id = owner;
END
$$;
