/*
 * db.c: the statement table and plans.  Opening connections is
 * db_conn.c, running plans and mapping errors db_exec.c.
 *
 * Every authenticated statement folds the "does the token's user still
 * exist" check in: it selects FROM users me ... WHERE me.id = $1, so no
 * row at all means 401, a row of NULLs means "no such task (or not
 * yours)", and anything else is the answer.  One statement, one round
 * trip.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "list_sql.h"

/*
 * Timestamps are selected as they are: with the session's DateStyle ISO
 * and TimeZone UTC (setup_send, db_conn.c) PostgreSQL writes "2026-11-21
 * 09:30:00.1234+00", which the renderer turns into RFC 3339 with six
 * fraction digits (json_out.c, jb_pgtime).  Three to_char() calls a row
 * cost more than the whole rest of a 20-row page (bench/RESULTS.md).
 */
/*
 * The new updated_at of a changed row: now(), but always after the
 * previous value.  now() is the transaction's start, and a PATCH that
 * waited for another one's row lock started before that one committed:
 * without greatest() two concurrent changes could leave updated_at older
 * than the change before it.  (In an UPDATE that waited, "col" is the
 * newest committed value: PostgreSQL re-evaluates the row after the lock.)
 */
#define MONOTONIC_NOW(col) \
	"greatest(now(), " col " + interval '1 microsecond')"
/* A column list reads best a few columns a line. */
/* clang-format off */
#define USER_COLS(u)	u ".id, " u ".email, " u ".name, " \
		u ".created_at, " u ".updated_at"
#define TASK_COLS(t)	t ".id, " t ".user_id, " t ".title, " \
		t ".description, " t ".status, " t ".priority, " \
		t ".due_at, " t ".created_at, " t ".updated_at"
/* A PATCH that changes something moves updated_at and version. */
#define TASK_CHANGED \
	"(($3::boolean AND $4::text IS DISTINCT FROM t.title) OR " \
	"($5::boolean AND $6::text IS DISTINCT FROM t.description) OR " \
	"($7::boolean AND $8::task_status IS DISTINCT FROM t.status) OR " \
	"($9::boolean AND $10::task_priority IS DISTINCT FROM " \
	"t.priority) OR " \
	"($11::boolean AND $12::timestamptz IS DISTINCT FROM t.due_at))"
/*
 * Conditional writes (etag.h).  PRECONDITIONS is tested in the WHERE of
 * the UPDATE or DELETE, so it is evaluated on the newest row under its
 * lock: of racing writers holding the same ETag exactly one wins.  When
 * it fails, CURRENT_VERSION locks the row and reads its newest version,
 * which tells 412 (a row, with the ETag to send) from 404 (none: gone,
 * or never there) without a window between the two.  It only runs when
 * the write did nothing (the NOT EXISTS is a one-time filter), so a
 * write that succeeds costs no extra lock.
 */
#define PRECONDITIONS(v, a, b) \
	"(" a "::bigint[] IS NULL OR " v " = ANY(" a "::bigint[])) AND " \
	"(" b "::bigint[] IS NULL OR " v " <> ALL(" b "::bigint[]))"
#define CURRENT_VERSION(done) \
	"cur AS (SELECT c.version FROM tasks c WHERE c.id = $2 " \
	"AND c.user_id = $1 AND NOT EXISTS (SELECT 1 FROM " done ") " \
	"FOR UPDATE) "
/*
 * The same for the caller's own user row.  Its statements have no users
 * me to join (the row written is the caller's): one row when the write
 * happened or the row is still there (412), none when the user is gone
 * (401).
 */
#define CURRENT_USER_VERSION(done) \
	"cur AS (SELECT c.version FROM users c WHERE c.id = $1 " \
	"AND NOT EXISTS (SELECT 1 FROM " done ") FOR UPDATE) "
#define USER_WRITE_FROM(done) \
	"FROM (SELECT 1) one LEFT JOIN " done " ON true " \
	"LEFT JOIN cur ON true WHERE " done ".id IS NOT NULL " \
	"OR cur.version IS NOT NULL"
/* A user PATCH that changes something moves updated_at and version. */
#define USER_CHANGED \
	"(($2::boolean AND $3::text IS DISTINCT FROM u.name) OR " \
	"($4::boolean AND lower($5::text) IS DISTINCT FROM u.email) OR " \
	"$6::boolean)"
/* "this row changed": true, false (412), NULL (no such row: 404). */
#define WRITE_OK(done) \
	"CASE WHEN " done ".id IS NOT NULL THEN true " \
	"WHEN cur.version IS NOT NULL THEN false END"
/*
 * Idempotency keys (idempotency.h).  A keyed creation first claims its
 * key: a new key is inserted with the id the new row will get; an
 * existing one is locked and returned instead (ON CONFLICT DO UPDATE
 * waits for a creation of the same key still in flight, and then sees
 * its committed row, which a plain read in this statement's snapshot
 * would not).  replays = 0 means "claimed now: create the row".  A key
 * past expires_at is claimed afresh as if it were new.  Each claim also
 * deletes a few expired keys (KEY_GC), so the table holds about a day
 * of keys without a job outside taskapi.
 */
#define KEY_GC(scope, key) \
	"gc AS (DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(" \
	"SELECT ctid FROM idempotency_keys WHERE expires_at < now() " \
	"AND NOT (scope = " scope " AND key = " key ") " \
	"ORDER BY expires_at LIMIT 4 FOR UPDATE SKIP LOCKED))) "
#define KEY_RENEW(col) \
	col " = CASE WHEN ik.expires_at <= now() THEN excluded." col \
	" ELSE ik." col " END"
#define KEY_CLAIM(scope, key, hash, path, from) \
	"k AS (INSERT INTO idempotency_keys AS ik (scope, key, " \
	"request_hash, status, location, resource_id, created_at, " \
	"expires_at) SELECT " scope ", " key ", " hash ", 201, " \
	"'" path "' || n.id, n.id, now(), now() + interval '24 hours' " \
	"FROM (SELECT gen_random_uuid() AS id) n" from " " \
	"ON CONFLICT (scope, key) DO UPDATE SET " \
	KEY_RENEW("request_hash") ", " KEY_RENEW("location") ", " \
	KEY_RENEW("resource_id") ", " KEY_RENEW("created_at") ", " \
	"replays = CASE WHEN ik.expires_at <= now() THEN 0 " \
	"ELSE ik.replays + 1 END, " KEY_RENEW("expires_at") " " \
	"RETURNING ik.resource_id, ik.request_hash, ik.created_at, " \
	"ik.replays) "
/* clang-format on */

/* What a statement's entry says of it besides its text (flags). */
#define RO  0x1 /* only reads: safe to retry on a fresh connection */
#define BIN 0x2 /* results in binary (db_stmt_binary) */

struct stmt_def {
	const char	*name;
	int		 nparams;
	unsigned	 flags; /* RO, BIN */
	const char	*sql;
};

/*
 * clang-format off: each statement's SQL is split by clause, one
 * string per line, which clang-format would re-wrap around the column
 * macros into something no one could review.
 */
/* clang-format off */
static const struct stmt_def stmts[STMT__MAX] = {
	[STMT_NONE] = { "none", 0, RO, NULL },
	/*
	 * /health: true when the session cannot write (a standby, or a
	 * server set read-only), which /health reports apart from "cannot
	 * connect".
	 */
	[STMT_PING] = { "ping", 0, RO,
	    "SELECT pg_is_in_recovery() OR "
	    "current_setting('transaction_read_only')::boolean" },
	[STMT_USER_INSERT] = { "user_insert", 3, 0,
	    "INSERT INTO users (email, name, password_hash) "
	    "VALUES (lower($1), $2, $3) RETURNING " USER_COLS("users")
	    ", users.version" },
	[STMT_USER_BY_EMAIL] = { "user_by_email", 1, RO,
	    "SELECT id, password_hash FROM users WHERE email = lower($1)" },
	[STMT_USER_ME] = { "user_me", 1, RO,
	    "SELECT " USER_COLS("u") ", u.version FROM users u "
	    "WHERE u.id = $1" },
	/* In the subquery's order without an outer sort: see tasks_list. */
	[STMT_USERS_LIST] = { "users_list", 6, RO, USERS_PAGE_SQL },
	[STMT_USER_GET] = { "user_get", 2, RO,
	    "SELECT " USER_COLS("x") ", x.version FROM users me "
	    "LEFT JOIN users x ON x.id = $2 WHERE me.id = $1" },
	[STMT_USER_EXISTS] = { "user_exists", 1, RO,
	    "SELECT 1 FROM users WHERE id = $1" },
	/*
	 * $8 and $9: the preconditions (etag.h), tested under the row's
	 * lock as for tasks.  No row at all: the caller is gone (401).
	 * Columns: USER_COLS, version, changed (false: 412).
	 */
	[STMT_USER_UPDATE] = { "user_update", 9, 0,
	    "WITH upd AS (UPDATE users u SET "
	    "name = CASE WHEN $2::boolean THEN $3::text ELSE u.name END, "
	    "email = CASE WHEN $4::boolean THEN lower($5::text) "
	    "ELSE u.email END, "
	    "password_hash = CASE WHEN $6::boolean THEN $7::text "
	    "ELSE u.password_hash END, "
	    "updated_at = CASE WHEN " USER_CHANGED " "
	    "THEN " MONOTONIC_NOW("u.updated_at") " ELSE u.updated_at END, "
	    "version = CASE WHEN " USER_CHANGED " THEN u.version + 1 "
	    "ELSE u.version END "
	    "WHERE u.id = $1 AND " PRECONDITIONS("u.version", "$8", "$9")
	    " RETURNING u.*), " CURRENT_USER_VERSION("upd")
	    "SELECT " USER_COLS("upd") ", coalesce(upd.version, cur.version), "
	    WRITE_OK("upd") " " USER_WRITE_FROM("upd") },
	/* Columns: the id deleted, the current version, deleted (false: 412). */
	[STMT_USER_DELETE] = { "user_delete", 3, 0,
	    "WITH del AS (DELETE FROM users u WHERE u.id = $1 AND "
	    PRECONDITIONS("u.version", "$2", "$3") " RETURNING u.id), "
	    CURRENT_USER_VERSION("del")
	    "SELECT del.id, cur.version, " WRITE_OK("del") " "
	    USER_WRITE_FROM("del") },
	/*
	 * No ORDER BY outside the subquery: its rows come out in the
	 * subquery's order.  The LATERAL reference to me.id leaves one plan
	 * shape, a nested loop with users on the outside, and users is read
	 * by its primary key: at most one outer row, so the output is the
	 * inner Limit's rows in order.  An outer ORDER BY re-sorted those 20
	 * rows: 13% of PostgreSQL's CPU for a page (bench/RESULTS.md).
	 * 76-plans.sh checks the plan's shape; 40-tasks.sh the order.
	 */
	[STMT_TASKS_LIST] = { "tasks_list", 5, RO | BIN,
	    "SELECT " TASK_COLS("x") " FROM users me LEFT JOIN LATERAL "
	    "(SELECT * FROM tasks t WHERE t.user_id = me.id "
	    "AND ($2::task_status IS NULL OR t.status = $2::task_status) "
	    "AND ($3::task_priority IS NULL OR "
	    "t.priority = $3::task_priority) "
	    "ORDER BY t.created_at DESC, t.id DESC LIMIT $4 OFFSET $5) x "
	    "ON true WHERE me.id = $1" },
	[STMT_TASK_INSERT] = { "task_insert", 5, 0,
	    "INSERT INTO tasks (user_id, title, description, priority, due_at) "
	    "SELECT me.id, $2, $3, $4::task_priority, $5::timestamptz "
	    "FROM users me WHERE me.id = $1 RETURNING " TASK_COLS("tasks")
	    ", tasks.version" },
	[STMT_TASK_GET] = { "task_get", 2, RO | BIN,
	    "SELECT " TASK_COLS("t") ", t.version FROM users me "
	    "LEFT JOIN tasks t ON t.id = $2 AND t.user_id = me.id "
	    "WHERE me.id = $1" },
	/*
	 * task_get for many (ev_batch.h): $1 the users' ids, $2 the tasks'
	 * (uuid[], sent in binary; one pair a request).  The last column is
	 * the pair's ordinal; a pair whose user is gone has no row, as
	 * task_get, and one with no such task of theirs a row of NULLs.
	 * Each lookup is a LATERAL subquery with a LIMIT, which PostgreSQL
	 * cannot fold into a join: so the plan is a nested loop of primary
	 * key lookups per pair, whatever the statistics.  As plain joins,
	 * the generic plan on a small users table was a hash join over
	 * all of users (76-plans.sh).
	 *
	 * The user is looked up only when the task is not found: a task of
	 * theirs found in the statement's snapshot says they exist, since
	 * tasks.user_id references users ON DELETE CASCADE (a user's
	 * delete takes their tasks in the same transaction).  "t.id IS
	 * NULL" refers to the outer row alone, so PostgreSQL makes it a
	 * one-time filter that skips the users_pkey probe; as an EXISTS
	 * it would become a hashed subplan over all of users.  On a batch
	 * of 10 found tasks, 7% less PostgreSQL time a statement (pgbench,
	 * bench/HISTORY.md); the lone task_get keeps its join, which this
	 * shape made slower (more plan nodes to start for one lookup).
	 */
	[STMT_TASK_GET_BATCH] = { "task_get_batch", 2, RO | BIN,
	    "SELECT " TASK_COLS("t") ", t.version, q.n "
	    "FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY "
	    "AS q(user_id, task_id, n) "
	    "LEFT JOIN LATERAL (SELECT " TASK_COLS("x") ", x.version "
	    "FROM tasks x WHERE x.id = q.task_id AND x.user_id = q.user_id "
	    "LIMIT 1) t ON true "
	    "LEFT JOIN LATERAL (SELECT u.id FROM users u "
	    "WHERE t.id IS NULL AND u.id = q.user_id LIMIT 1) me ON true "
	    "WHERE t.id IS NOT NULL OR me.id IS NOT NULL" },
	[STMT_TASK_UPDATE] = { "task_update", 14, 0,
	    "WITH upd AS (UPDATE tasks t SET "
	    "title = CASE WHEN $3::boolean THEN $4::text ELSE t.title END, "
	    "description = CASE WHEN $5::boolean THEN $6::text "
	    "ELSE t.description END, "
	    "status = CASE WHEN $7::boolean THEN $8::task_status "
	    "ELSE t.status END, "
	    "priority = CASE WHEN $9::boolean THEN $10::task_priority "
	    "ELSE t.priority END, "
	    "due_at = CASE WHEN $11::boolean THEN $12::timestamptz "
	    "ELSE t.due_at END, "
	    "updated_at = CASE WHEN " TASK_CHANGED " "
	    "THEN " MONOTONIC_NOW("t.updated_at") " ELSE t.updated_at END, "
	    "version = CASE WHEN " TASK_CHANGED " THEN t.version + 1 "
	    "ELSE t.version END "
	    "WHERE t.id = $2 AND t.user_id = $1 AND "
	    PRECONDITIONS("t.version", "$13", "$14") " RETURNING t.*), "
	    CURRENT_VERSION("upd")
	    "SELECT " TASK_COLS("upd") ", coalesce(upd.version, cur.version), "
	    WRITE_OK("upd") " FROM users me LEFT JOIN upd ON true "
	    "LEFT JOIN cur ON true WHERE me.id = $1" },
	[STMT_TASK_DELETE] = { "task_delete", 4, 0,
	    "WITH del AS (DELETE FROM tasks t WHERE t.id = $2 "
	    "AND t.user_id = $1 AND " PRECONDITIONS("t.version", "$3", "$4")
	    " RETURNING t.id), " CURRENT_VERSION("del")
	    "SELECT del.id, cur.version, " WRITE_OK("del") " FROM users me "
	    "LEFT JOIN del ON true LEFT JOIN cur ON true WHERE me.id = $1" },
	[STMT_TASKS_EXPORT] = { "tasks_export", 1, RO,
	    "SELECT " TASK_COLS("t") " FROM users me LEFT JOIN tasks t "
	    "ON t.user_id = me.id WHERE me.id = $1 "
	    "ORDER BY t.created_at DESC, t.id DESC" },
	/*
	 * POST /api/v1/tasks with an Idempotency-Key: $6 the key, $7 the
	 * body's hash.  The task is inserted with the claimed id and time
	 * only when the key was claimed now.  The answer is built from the
	 * key's row and the request's own values (the same as the first
	 * request's, when the hashes are equal), so a repeat returns the
	 * first answer exactly; same_body false is a 422.  Columns:
	 * TASK_COLS, version, same_body.
	 */
	[STMT_TASK_INSERT_KEYED] = { "task_insert_keyed", 7, 0,
	    "WITH me AS (SELECT id FROM users WHERE id = $1), "
	    KEY_GC("$1::text", "$6::text")
	    ", " KEY_CLAIM("$1::text", "$6::text", "$7::text",
	    "/api/v1/tasks/", ", me") ", "
	    "ins AS (INSERT INTO tasks (id, user_id, title, description, "
	    "status, priority, due_at, created_at, updated_at, version) "
	    "SELECT k.resource_id, me.id, $2::text, $3::text, 'todo', "
	    "$4::task_priority, $5::timestamptz, k.created_at, k.created_at, "
	    "1 FROM k, me WHERE k.replays = 0) "
	    "SELECT k.resource_id, me.id, $2::text, $3::text, "
	    "'todo'::task_status, $4::task_priority, $5::timestamptz, "
	    "k.created_at, k.created_at, 1::bigint, k.request_hash = $7::text "
	    "FROM me JOIN k ON true" },
	/*
	 * POST /api/v1/auth/register with an Idempotency-Key: $4 the key,
	 * $5 the body's hash; the key's scope is the register route alone.
	 * Columns: USER_COLS, version, same_body.
	 */
	[STMT_USER_INSERT_KEYED] = { "user_insert_keyed", 5, 0,
	    "WITH " KEY_GC("'register'", "$4::text") ", "
	    KEY_CLAIM("'register'", "$4::text", "$5::text", "/api/v1/users/",
	    "")
	    ", ins AS (INSERT INTO users (id, email, name, password_hash, "
	    "created_at, updated_at, version) "
	    "SELECT k.resource_id, lower($1::text), $2::text, $3::text, "
	    "k.created_at, k.created_at, 1 FROM k WHERE k.replays = 0) "
	    "SELECT k.resource_id, lower($1::text), $2::text, k.created_at, "
	    "k.created_at, 1::bigint, k.request_hash = $5::text FROM k" },
	[STMT_TASKS_PAGE_CREATED_DESC] = { "tasks_page_created_desc", 11, RO | BIN,
	    TASKS_DESC("t.created_at", "timestamptz", TS_HI) },
	[STMT_TASKS_PAGE_CREATED_ASC] = { "tasks_page_created_asc", 11, RO | BIN,
	    TASKS_ASC("t.created_at", "timestamptz", TS_LO) },
	[STMT_TASKS_PAGE_UPDATED_DESC] = { "tasks_page_updated_desc", 11, RO | BIN,
	    TASKS_DESC("t.updated_at", "timestamptz", TS_HI) },
	[STMT_TASKS_PAGE_UPDATED_ASC] = { "tasks_page_updated_asc", 11, RO | BIN,
	    TASKS_ASC("t.updated_at", "timestamptz", TS_LO) },
	[STMT_TASKS_PAGE_DUE_DESC] = { "tasks_page_due_desc", 11, RO | BIN,
	    TASKS_DESC(DUE_KEY("t"), "timestamptz", TS_HI) },
	[STMT_TASKS_PAGE_DUE_ASC] = { "tasks_page_due_asc", 11, RO | BIN,
	    TASKS_ASC(DUE_KEY("t"), "timestamptz", TS_LO) },
	[STMT_TASKS_PAGE_PRIORITY_DESC] = { "tasks_page_priority_desc", 11, RO | BIN,
	    TASKS_DESC("t.priority", "task_priority", PRIO_HI) },
	[STMT_TASKS_PAGE_PRIORITY_ASC] = { "tasks_page_priority_asc", 11, RO | BIN,
	    TASKS_ASC("t.priority", "task_priority", PRIO_LO) },
	[STMT_TASKS_SEARCH_CREATED_DESC] = { "tasks_search_created_desc", 12, RO | BIN,
	    TASKS_DESC_Q("t.created_at", "timestamptz", TS_HI) },
	[STMT_TASKS_SEARCH_CREATED_ASC] = { "tasks_search_created_asc", 12, RO | BIN,
	    TASKS_ASC_Q("t.created_at", "timestamptz", TS_LO) },
	[STMT_TASKS_SEARCH_UPDATED_DESC] = { "tasks_search_updated_desc", 12, RO | BIN,
	    TASKS_DESC_Q("t.updated_at", "timestamptz", TS_HI) },
	[STMT_TASKS_SEARCH_UPDATED_ASC] = { "tasks_search_updated_asc", 12, RO | BIN,
	    TASKS_ASC_Q("t.updated_at", "timestamptz", TS_LO) },
	[STMT_TASKS_SEARCH_DUE_DESC] = { "tasks_search_due_desc", 12, RO | BIN,
	    TASKS_DESC_Q(DUE_KEY("t"), "timestamptz", TS_HI) },
	[STMT_TASKS_SEARCH_DUE_ASC] = { "tasks_search_due_asc", 12, RO | BIN,
	    TASKS_ASC_Q(DUE_KEY("t"), "timestamptz", TS_LO) },
	[STMT_TASKS_SEARCH_PRIORITY_DESC] = { "tasks_search_priority_desc", 12, RO | BIN,
	    TASKS_DESC_Q("t.priority", "task_priority", PRIO_HI) },
	[STMT_TASKS_SEARCH_PRIORITY_ASC] = { "tasks_search_priority_asc", 12, RO | BIN,
	    TASKS_ASC_Q("t.priority", "task_priority", PRIO_LO) },
};
/* clang-format on */

const char *
db_stmt_name(enum stmt s)
{
	return s < STMT__MAX ? stmts[s].name : "?";
}

const char *
db_stmt_sql(enum stmt s)
{
	return s < STMT__MAX ? stmts[s].sql : NULL;
}

int
db_stmt_nparams(enum stmt s)
{
	return s < STMT__MAX ? stmts[s].nparams : 0;
}

bool
db_stmt_readonly(enum stmt s)
{
	return s < STMT__MAX && (stmts[s].flags & RO) != 0;
}

bool
db_stmt_binary(enum stmt s)
{
	return s < STMT__MAX && (stmts[s].flags & BIN) != 0;
}

const char *
db_plan_lock_key(const struct plan *p)
{
	int i;

	switch (p->stmt) {
	case STMT_TASK_UPDATE:
	case STMT_TASK_DELETE:
		i = 1; /* $2, the task's id */
		break;
	case STMT_TASK_INSERT_KEYED:
		i = 5; /* $6, the key: a concurrent repeat waits on its row */
		break;
	default:
		return NULL;
	}
	return i < p->nparams ? p->values[i] : NULL;
}

/* --- plans ---------------------------------------------------------- */

void
plan_param(struct plan *p, const char *s)
{
	if (p->nparams < PLAN_MAXPARAMS)
		p->values[p->nparams++] = s;
}

#define PLAN_ARENA_KEEP	(8 * 1024)	/* kept across requests */

/*
 * The arena only grows in plan_reserve(), before any value points into
 * it; app_begin() reserves the body's size plus room for the small
 * parameters, which bounds everything a plan copies.
 */
enum terr
plan_reserve(struct plan *p, size_t n)
{
	char	*a;

	if (p->arena_len != 0)
		return n <= p->arena_cap - p->arena_len ? TERR_OK : TERR_INTERNAL;
	if (n <= p->arena_cap)
		return TERR_OK;
	if (n < 1024)
		n = 1024;
	if ((a = realloc(p->arena, n)) == NULL)
		return TERR_NOMEM;
	p->arena = a;
	p->arena_cap = n;
	return TERR_OK;
}

static char *
arena_alloc(struct plan *p, size_t n)
{
	char	*s;

	if (p->arena == NULL && plan_reserve(p, n + 1024) != TERR_OK)
		return NULL;
	if (n > p->arena_cap - p->arena_len)
		return NULL;
	s = p->arena + p->arena_len;
	p->arena_len += n;
	return s;
}

enum terr
plan_param_copy(struct plan *p, const char *s, size_t len)
{
	char	*d;

	if ((d = arena_alloc(p, len + 1)) == NULL)
		return TERR_NOMEM;
	memcpy(d, s, len);
	d[len] = '\0';
	plan_param(p, d);
	return TERR_OK;
}

enum terr
plan_param_fmt(struct plan *p, const char *fmt, ...)
{
	char	 buf[64];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return TERR_INTERNAL;
	return plan_param_copy(p, buf, (size_t)n);
}

void
plan_reset(struct plan *p)
{
	p->stmt = STMT_NONE;
	p->nparams = 0;
	memset(p->values, 0, sizeof(p->values));
	p->arena_len = 0;
	if (p->arena_cap > PLAN_ARENA_KEEP) {
		free(p->arena);
		p->arena = NULL;
		p->arena_cap = 0;
	}
}

void
plan_free(struct plan *p)
{
	free(p->arena);
	memset(p, 0, sizeof(*p));
}
