/*
 * list_sql.h: the SQL of the sorted, filtered and keyset-paged list
 * statements (GET /api/v1/tasks with sort, cursor, due_*, overdue, q or
 * count; GET /api/v1/users).  db.c's statement table expands these
 * macros once per sort, so the server prepares a fixed set of shapes and
 * never assembles SQL from a request.
 *
 * Parameters of every task shape (list_query.c fills them in this order):
 *   $1 caller's id      $2 status        $3 priority
 *   $4 due_after (>=)   $5 due_before (<) $6 overdue ('t'/'f')
 *   $7 cursor key       $8 cursor id     $9 limit (page + 1)
 *   $10 offset          $11 count ('t'/'f')
 *   $12 q (search shapes only)
 *
 * The keyset condition is one row comparison, (key, id) < or > the
 * cursor's, so it is an index condition of the (user_id, key, id) index
 * and a page far down starts where the cursor points instead of reading
 * every row before it.  Without a cursor the comparison is against a
 * bound no row reaches (coalesce with infinity and the lowest or highest
 * uuid), which keeps one plan for first and later pages.
 *
 * The count is a sub-select that refers to no column of the outer rows,
 * so PostgreSQL makes it an InitPlan, run at most once and only when the
 * CASE reaches it: with $11 false it costs nothing.
 */
#ifndef TASKAPI_LIST_SQL_H
#define TASKAPI_LIST_SQL_H

/* clang-format off */
#define LIST_UUID_MIN	"'00000000-0000-0000-0000-000000000000'::uuid"
#define LIST_UUID_MAX	"'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid"

/* The filters of $2..$6 on the tasks row t. */
#define TASKS_FILTERS(t) \
	"($2::task_status IS NULL OR " t ".status = $2::task_status) " \
	"AND ($3::task_priority IS NULL OR " t ".priority = $3::task_priority) " \
	"AND ($4::timestamptz IS NULL OR " t ".due_at >= $4::timestamptz) " \
	"AND ($5::timestamptz IS NULL OR " t ".due_at < $5::timestamptz) " \
	"AND (NOT $6::boolean OR (" t ".due_at < now() AND " t ".status " \
	"NOT IN ('done'::task_status, 'cancelled'::task_status))) "

/*
 * A search (q) has two good plans, and which one depends on how common
 * the words are among the user's tasks.  A word in most tasks is best
 * found by walking the sort's index from the cursor and testing each
 * row: a page needs a few dozen rows.  A rare word is best found by the
 * GIN index (tasks_matching(), 0004_search_gin.sql), and what it finds
 * sorted: a walk would read every task of the user.  A generic plan
 * cannot tell the two apart, so the statement does both in turn:
 *
 *   walk: the first SEARCH_WINDOW rows (plus the offset) past the
 *         cursor in the sort's order, of which those holding the words,
 *         a page of them.  Its LIMIT stops the walk as soon as the page
 *         is full, so a common word costs a page's worth of rows.
 *   GIN:  only when the walk found less than a page although its window
 *         was full (so more matching rows may lie further on): the
 *         matching rows past the cursor, sorted.  The conditions hold no
 *         column, so they are a one-time filter, and tasks_matching() is
 *         not called at all when the walk answered.
 *
 * The GIN side sorts at most the rows holding the words; it runs only
 * for words found less than once a page in SEARCH_WINDOW rows.  Walking
 * the window (the rows are in the cache after the walk) tells a full
 * window from the end of the user's tasks, where the walk's rows are
 * the whole answer.  The choice (gin.used) is made once, in a CTE; the
 * walk's rows are the answer only when the GIN side is not used (it
 * would return them again), so one of the two branches of the UNION ALL
 * is empty, and each yields its rows in the sort's order.
 */
#define SEARCH_WINDOW "1000"
#define SEARCH_WORDS "websearch_to_tsquery('simple'::regconfig, $12::text)"
#define SEARCH_COLS                                                          \
	"id, user_id, title, description, status, priority, due_at, created_at, " \
	"updated_at"
#define SEARCH_KEYSET(key_t, ktype, cmp, lo, idb) \
	"(" key_t ", t.id) " cmp " (coalesce($7::" ktype ", " lo "), " \
	"coalesce($8::uuid, " idb ")) "
/* The user's rows past the cursor with the filters, in the sort's order. */
#define SEARCH_WALK(cols, key_t, ktype, dir, cmp, lo, idb) \
	"SELECT " cols " FROM tasks t WHERE t.user_id = $1::uuid AND " \
	TASKS_FILTERS("t") "AND " SEARCH_KEYSET(key_t, ktype, cmp, lo, idb) \
	"ORDER BY " key_t " " dir ", t.id " dir " " \
	"LIMIT " SEARCH_WINDOW " + $10::bigint"

#define TASKS_SEARCH_SQL(key_t, ktype, dir, cmp, lo, idb) \
	"WITH walk AS MATERIALIZED (SELECT w.* FROM (" \
	SEARCH_WALK("t.*, " key_t " AS k", key_t, ktype, dir, cmp, lo, idb) \
	") w WHERE w.search @@ " SEARCH_WORDS " " \
	"ORDER BY w.k " dir ", w.id " dir " LIMIT $9 OFFSET $10), " \
	"gin AS MATERIALIZED (SELECT (SELECT count(*) FROM walk) < $9 " \
	"AND (SELECT count(*) FROM (" \
	SEARCH_WALK("1", key_t, ktype, dir, cmp, lo, idb) \
	") s) = " SEARCH_WINDOW " + $10::bigint AS used) " \
	"SELECT x.id, x.user_id, x.title, x.description, x.status, " \
	"x.priority, x.due_at, x.created_at, x.updated_at, " \
	"CASE WHEN $11::boolean THEN (SELECT count(*) FROM " \
	"tasks_matching($1::uuid, $12::text) c WHERE " TASKS_FILTERS("c") \
	") END " \
	"FROM users me LEFT JOIN LATERAL " \
	"(SELECT " SEARCH_COLS " FROM walk " \
	"WHERE NOT (SELECT used FROM gin) UNION ALL " \
	"(SELECT " SEARCH_COLS " FROM tasks_matching($1::uuid, $12::text) t " \
	"WHERE " TASKS_FILTERS("t") "AND " \
	SEARCH_KEYSET(key_t, ktype, cmp, lo, idb) \
	"AND (SELECT used FROM gin) " \
	"ORDER BY " key_t " " dir ", t.id " dir " LIMIT $9 OFFSET $10)) x " \
	"ON true WHERE me.id = $1::uuid"

/*
 * One task list shape.  key_t: the sort expression over t, exactly as its
 * index has it; ktype: its SQL type; dir: ASC or DESC; cmp: > or <; lo:
 * the bound no key passes in that direction; idb: the id bound.  The
 * count repeats the filters on its own rows c.
 */
#define TASKS_PAGE_SQL(key_t, ktype, dir, cmp, lo, idb) \
	"SELECT x.id, x.user_id, x.title, x.description, x.status, " \
	"x.priority, x.due_at, x.created_at, x.updated_at, " \
	"CASE WHEN $11::boolean THEN (SELECT count(*) FROM tasks c " \
	"WHERE c.user_id = $1::uuid AND " TASKS_FILTERS("c") ") END " \
	"FROM users me LEFT JOIN LATERAL " \
	"(SELECT * FROM tasks t WHERE t.user_id = me.id AND " \
	TASKS_FILTERS("t") "AND " \
	"(" key_t ", t.id) " cmp " (coalesce($7::" ktype ", " lo "), " \
	"coalesce($8::uuid, " idb ")) " \
	"ORDER BY " key_t " " dir ", t.id " dir " LIMIT $9 OFFSET $10) x " \
	"ON true WHERE me.id = $1::uuid"

#define TASKS_DESC(kt, ktype, hi) \
	TASKS_PAGE_SQL(kt, ktype, "DESC", "<", hi, LIST_UUID_MAX)
#define TASKS_ASC(kt, ktype, lo) \
	TASKS_PAGE_SQL(kt, ktype, "ASC", ">", lo, LIST_UUID_MIN)
#define TASKS_DESC_Q(kt, ktype, hi) \
	TASKS_SEARCH_SQL(kt, ktype, "DESC", "<", hi, LIST_UUID_MAX)
#define TASKS_ASC_Q(kt, ktype, lo) \
	TASKS_SEARCH_SQL(kt, ktype, "ASC", ">", lo, LIST_UUID_MIN)

#define TS_HI	"'infinity'::timestamptz"
#define TS_LO	"'-infinity'::timestamptz"
#define PRIO_HI	"'critical'::task_priority"
#define PRIO_LO	"'low'::task_priority"
#define DUE_KEY(t)	"coalesce(" t ".due_at, 'infinity'::timestamptz)"

/*
 * GET /api/v1/users: newest first, keyset on (created_at, id).
 *   $1 caller's id  $2 limit (page + 1)  $3 offset
 *   $4 cursor created_at  $5 cursor id  $6 count ('t'/'f')
 */
#define USERS_PAGE_SQL \
	"SELECT x.id, x.email, x.name, x.created_at, x.updated_at, " \
	"CASE WHEN $6::boolean THEN (SELECT count(*) FROM users) END " \
	"FROM users me LEFT JOIN LATERAL " \
	"(SELECT * FROM users u WHERE (u.created_at, u.id) < " \
	"(coalesce($4::timestamptz, " TS_HI "), coalesce($5::uuid, " \
	LIST_UUID_MAX ")) " \
	"ORDER BY u.created_at DESC, u.id DESC LIMIT $2 OFFSET $3) x " \
	"ON true WHERE me.id = $1::uuid"
/* clang-format on */

#endif /* TASKAPI_LIST_SQL_H */
