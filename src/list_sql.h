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
 * A search reads the matching rows by the GiST index on search and sorts
 * them, rather than walking the sort's index and testing every row of
 * the user on the way: a search is for the few tasks that hold a word.
 * The inner select (OFFSET 0 keeps PostgreSQL from merging it into the
 * outer one) asks for no order and holds no keyset condition the sort's
 * index could use, so its cheapest path is the search index; the outer
 * select keeps what follows the cursor and sorts it.
 */
#define SEARCH_OPEN	"(SELECT * FROM "
#define SEARCH_CLOSE	"OFFSET 0) t WHERE "

#define TASKS_SEARCH(t) \
	"AND " t ".search @@ websearch_to_tsquery('simple'::regconfig, $12::text) "

/*
 * One task list shape.  key_t: the sort expression over t, exactly as its
 * index has it; ktype: its SQL type; dir: ASC or DESC; cmp: > or <; lo:
 * the bound no key passes in that direction; idb: the id bound; open and
 * close: what wraps the filtered rows before the keyset condition ("" and
 * "AND ", or the search's inner select); the
 * search condition on t and on c.  The count repeats the filters (and
 * the search) on its own rows c.
 */
#define TASKS_PAGE_SQL(key_t, ktype, dir, cmp, lo, idb, open, close, search_t, search_c) \
	"SELECT x.id, x.user_id, x.title, x.description, x.status, " \
	"x.priority, x.due_at, x.created_at, x.updated_at, " \
	"CASE WHEN $11::boolean THEN (SELECT count(*) FROM tasks c " \
	"WHERE c.user_id = $1::uuid AND " TASKS_FILTERS("c") search_c ") END " \
	"FROM users me LEFT JOIN LATERAL " \
	"(SELECT * FROM " open "tasks t WHERE t.user_id = me.id AND " \
	TASKS_FILTERS("t") search_t close \
	"(" key_t ", t.id) " cmp " (coalesce($7::" ktype ", " lo "), " \
	"coalesce($8::uuid, " idb ")) " \
	"ORDER BY " key_t " " dir ", t.id " dir " LIMIT $9 OFFSET $10) x " \
	"ON true WHERE me.id = $1::uuid"

#define TASKS_DESC(kt, ktype, hi) \
	TASKS_PAGE_SQL(kt, ktype, "DESC", "<", hi, LIST_UUID_MAX, "", "AND ", "", "")
#define TASKS_ASC(kt, ktype, lo) \
	TASKS_PAGE_SQL(kt, ktype, "ASC", ">", lo, LIST_UUID_MIN, "", "AND ", "", "")
#define TASKS_DESC_Q(kt, ktype, hi) \
	TASKS_PAGE_SQL(kt, ktype, "DESC", "<", hi, LIST_UUID_MAX, \
	    SEARCH_OPEN, SEARCH_CLOSE, \
	    TASKS_SEARCH("t"), TASKS_SEARCH("c"))
#define TASKS_ASC_Q(kt, ktype, lo) \
	TASKS_PAGE_SQL(kt, ktype, "ASC", ">", lo, LIST_UUID_MIN, \
	    SEARCH_OPEN, SEARCH_CLOSE, \
	    TASKS_SEARCH("t"), TASKS_SEARCH("c"))

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
