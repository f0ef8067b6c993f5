/*
 * db.c: the statement table, connection lifecycle and error mapping.
 *
 * Every authenticated statement folds the "does the token's user still
 * exist" check in: it selects FROM users me ... WHERE me.id = $1, so no
 * row at all means 401, a row of NULLs means "no such task (or not
 * yours)", and anything else is the answer.  One statement, one round
 * trip.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "db.h"
#include "db_cancel.h"
#include "list_sql.h"
#include "log.h"
#include "util.h"

/*
 * Timestamps are selected as they are: with the session's DateStyle ISO
 * and TimeZone UTC (db_setup) PostgreSQL writes "2026-11-21
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

struct stmt_def {
	const char	*name;
	int		 nparams;
	bool		 readonly;	/* safe to retry on a fresh connection */
	const char	*sql;
};

/*
 * clang-format off: each statement's SQL is split by clause, one
 * string per line, which clang-format would re-wrap around the column
 * macros into something no one could review.
 */
/* clang-format off */
static const struct stmt_def stmts[STMT__MAX] = {
	[STMT_NONE] = { "none", 0, true, NULL },
	/*
	 * /health: true when the session cannot write (a standby, or a
	 * server set read-only), which /health reports apart from "cannot
	 * connect".
	 */
	[STMT_PING] = { "ping", 0, true,
	    "SELECT pg_is_in_recovery() OR "
	    "current_setting('transaction_read_only')::boolean" },
	[STMT_USER_INSERT] = { "user_insert", 3, false,
	    "INSERT INTO users (email, name, password_hash) "
	    "VALUES (lower($1), $2, $3) RETURNING " USER_COLS("users")
	    ", users.version" },
	[STMT_USER_BY_EMAIL] = { "user_by_email", 1, true,
	    "SELECT id, password_hash FROM users WHERE email = lower($1)" },
	[STMT_USER_ME] = { "user_me", 1, true,
	    "SELECT " USER_COLS("u") ", u.version FROM users u "
	    "WHERE u.id = $1" },
	/* In the subquery's order without an outer sort: see tasks_list. */
	[STMT_USERS_LIST] = { "users_list", 6, true, USERS_PAGE_SQL },
	[STMT_USER_GET] = { "user_get", 2, true,
	    "SELECT " USER_COLS("x") ", x.version FROM users me "
	    "LEFT JOIN users x ON x.id = $2 WHERE me.id = $1" },
	[STMT_USER_EXISTS] = { "user_exists", 1, true,
	    "SELECT 1 FROM users WHERE id = $1" },
	/*
	 * $8 and $9: the preconditions (etag.h), tested under the row's
	 * lock as for tasks.  No row at all: the caller is gone (401).
	 * Columns: USER_COLS, version, changed (false: 412).
	 */
	[STMT_USER_UPDATE] = { "user_update", 9, false,
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
	[STMT_USER_DELETE] = { "user_delete", 3, false,
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
	[STMT_TASKS_LIST] = { "tasks_list", 5, true,
	    "SELECT " TASK_COLS("x") " FROM users me LEFT JOIN LATERAL "
	    "(SELECT * FROM tasks t WHERE t.user_id = me.id "
	    "AND ($2::task_status IS NULL OR t.status = $2::task_status) "
	    "AND ($3::task_priority IS NULL OR "
	    "t.priority = $3::task_priority) "
	    "ORDER BY t.created_at DESC, t.id DESC LIMIT $4 OFFSET $5) x "
	    "ON true WHERE me.id = $1" },
	[STMT_TASK_INSERT] = { "task_insert", 5, false,
	    "INSERT INTO tasks (user_id, title, description, priority, due_at) "
	    "SELECT me.id, $2, $3, $4::task_priority, $5::timestamptz "
	    "FROM users me WHERE me.id = $1 RETURNING " TASK_COLS("tasks")
	    ", tasks.version" },
	[STMT_TASK_GET] = { "task_get", 2, true,
	    "SELECT " TASK_COLS("t") ", t.version FROM users me "
	    "LEFT JOIN tasks t ON t.id = $2 AND t.user_id = me.id "
	    "WHERE me.id = $1" },
	[STMT_TASK_UPDATE] = { "task_update", 14, false,
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
	[STMT_TASK_DELETE] = { "task_delete", 4, false,
	    "WITH del AS (DELETE FROM tasks t WHERE t.id = $2 "
	    "AND t.user_id = $1 AND " PRECONDITIONS("t.version", "$3", "$4")
	    " RETURNING t.id), " CURRENT_VERSION("del")
	    "SELECT del.id, cur.version, " WRITE_OK("del") " FROM users me "
	    "LEFT JOIN del ON true LEFT JOIN cur ON true WHERE me.id = $1" },
	[STMT_TASKS_EXPORT] = { "tasks_export", 1, true,
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
	[STMT_TASK_INSERT_KEYED] = { "task_insert_keyed", 7, false,
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
	[STMT_USER_INSERT_KEYED] = { "user_insert_keyed", 5, false,
	    "WITH " KEY_GC("'register'", "$4::text") ", "
	    KEY_CLAIM("'register'", "$4::text", "$5::text", "/api/v1/users/",
	    "")
	    ", ins AS (INSERT INTO users (id, email, name, password_hash, "
	    "created_at, updated_at, version) "
	    "SELECT k.resource_id, lower($1::text), $2::text, $3::text, "
	    "k.created_at, k.created_at, 1 FROM k WHERE k.replays = 0) "
	    "SELECT k.resource_id, lower($1::text), $2::text, k.created_at, "
	    "k.created_at, 1::bigint, k.request_hash = $5::text FROM k" },
	[STMT_TASKS_PAGE_CREATED_DESC] = { "tasks_page_created_desc", 11, true,
	    TASKS_DESC("t.created_at", "timestamptz", TS_HI) },
	[STMT_TASKS_PAGE_CREATED_ASC] = { "tasks_page_created_asc", 11, true,
	    TASKS_ASC("t.created_at", "timestamptz", TS_LO) },
	[STMT_TASKS_PAGE_UPDATED_DESC] = { "tasks_page_updated_desc", 11, true,
	    TASKS_DESC("t.updated_at", "timestamptz", TS_HI) },
	[STMT_TASKS_PAGE_UPDATED_ASC] = { "tasks_page_updated_asc", 11, true,
	    TASKS_ASC("t.updated_at", "timestamptz", TS_LO) },
	[STMT_TASKS_PAGE_DUE_DESC] = { "tasks_page_due_desc", 11, true,
	    TASKS_DESC(DUE_KEY("t"), "timestamptz", TS_HI) },
	[STMT_TASKS_PAGE_DUE_ASC] = { "tasks_page_due_asc", 11, true,
	    TASKS_ASC(DUE_KEY("t"), "timestamptz", TS_LO) },
	[STMT_TASKS_PAGE_PRIORITY_DESC] = { "tasks_page_priority_desc", 11, true,
	    TASKS_DESC("t.priority", "task_priority", PRIO_HI) },
	[STMT_TASKS_PAGE_PRIORITY_ASC] = { "tasks_page_priority_asc", 11, true,
	    TASKS_ASC("t.priority", "task_priority", PRIO_LO) },
	[STMT_TASKS_SEARCH_CREATED_DESC] = { "tasks_search_created_desc", 12, true,
	    TASKS_DESC_Q("t.created_at", "timestamptz", TS_HI) },
	[STMT_TASKS_SEARCH_CREATED_ASC] = { "tasks_search_created_asc", 12, true,
	    TASKS_ASC_Q("t.created_at", "timestamptz", TS_LO) },
	[STMT_TASKS_SEARCH_UPDATED_DESC] = { "tasks_search_updated_desc", 12, true,
	    TASKS_DESC_Q("t.updated_at", "timestamptz", TS_HI) },
	[STMT_TASKS_SEARCH_UPDATED_ASC] = { "tasks_search_updated_asc", 12, true,
	    TASKS_ASC_Q("t.updated_at", "timestamptz", TS_LO) },
	[STMT_TASKS_SEARCH_DUE_DESC] = { "tasks_search_due_desc", 12, true,
	    TASKS_DESC_Q(DUE_KEY("t"), "timestamptz", TS_HI) },
	[STMT_TASKS_SEARCH_DUE_ASC] = { "tasks_search_due_asc", 12, true,
	    TASKS_ASC_Q(DUE_KEY("t"), "timestamptz", TS_LO) },
	[STMT_TASKS_SEARCH_PRIORITY_DESC] = { "tasks_search_priority_desc", 12, true,
	    TASKS_DESC_Q("t.priority", "task_priority", PRIO_HI) },
	[STMT_TASKS_SEARCH_PRIORITY_ASC] = { "tasks_search_priority_asc", 12, true,
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
	return s < STMT__MAX && stmts[s].readonly;
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

/*
 * Prints the plan of every statement as db's session makes it (for
 * "taskapi plans"): EXPLAIN EXECUTE with all parameters NULL, which
 * shows the generic plan when the session forces generic plans, and
 * runs nothing.  Returns 0, or -1 on a database error.
 */
int
db_explain(struct db *db, FILE *out)
{
	char sql[512];

	if (db_ready(db) != TERR_OK)
		return -1;
	for (int s = STMT_NONE + 1; s < STMT__MAX; s++) {
		PGresult *r;
		size_t	  off;

		off = (size_t)snprintf(sql, sizeof(sql),
		    "EXPLAIN (COSTS OFF) EXECUTE %s", stmts[s].name);
		for (int i = 0; i < stmts[s].nparams && off < sizeof(sql); i++)
			off += (size_t)snprintf(sql + off, sizeof(sql) - off,
			    "%sNULL", i == 0 ? "(" : ", ");
		if (stmts[s].nparams > 0 && off < sizeof(sql))
			off +=
			    (size_t)snprintf(sql + off, sizeof(sql) - off, ")");
		if (off >= sizeof(sql))
			return -1;
		r = PQexec(db->conn, sql);
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_error("explaining %s: %s", stmts[s].name,
			    PQerrorMessage(db->conn));
			PQclear(r);
			return -1;
		}
		fprintf(out, "== %s\n", stmts[s].name);
		for (int row = 0; row < PQntuples(r); row++)
			fprintf(out, "%s\n", PQgetvalue(r, row, 0));
		PQclear(r);
	}
	return 0;
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

/* --- connections ---------------------------------------------------- */

void
db_init(struct db *db, const char *url, long connect_timeout,
    long statement_timeout)
{
	memset(db, 0, sizeof(*db));
	db->url = url;
	db->connect_timeout = connect_timeout;
	db->statement_timeout = statement_timeout;
}

void
db_close(struct db *db)
{
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
}

/*
 * PostgreSQL's notices and warnings as log lines, not libpq's raw text
 * on stderr: "canceling wait for synchronous replication" (a cancelled
 * commit that committed locally, db_exec) must be found in the log.
 * The primary message only, as db_log_result_error() decides.
 */
static void
notice_log(void *arg, const PGresult *r)
{
	const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	bool	    quotes = state == NULL || strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0;

	(void)arg;
	if (sev != NULL && strcmp(sev, "WARNING") == 0)
		log_warn("database warning %s%s%s", state != NULL ? state : "-",
		    quotes || msg == NULL ? "" : ": ",
		    quotes || msg == NULL ? "" : msg);
	else
		log_info("database notice %s%s%s", state != NULL ? state : "-",
		    quotes || msg == NULL ? "" : ": ",
		    quotes || msg == NULL ? "" : msg);
}

PGconn *
db_connect_once(const char *url, long connect_timeout)
{
	char		 ct[24];
	const char	*keys[] = { "connect_timeout", "application_name",
	    "dbname", NULL };
	const char	*vals[] = { ct, "taskapi", url, NULL };
	PGconn		*c;

	snprintf(ct, sizeof(ct), "%ld", connect_timeout);
	/* The URL comes last, so what it says wins over our defaults. */
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL) {
		log_error("database connection: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		char	 msg[512];
		size_t	 n;

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
		n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		log_warn("database connection failed: %s", msg);
		PQfinish(c);
		return NULL;
	}
	/* It returns the receiver it replaces: nothing to check. */
	(void)PQsetNoticeReceiver(c, notice_log, NULL);
	return c;
}

int
db_schema_version(PGconn *c, int *version)
{
	PGresult	*r;
	long long	 v;
	int		 rc = -1;

	*version = 0;
	r = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1) {
		log_error("schema check failed: %s", PQerrorMessage(c));
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) {
		rc = 0;
		goto out;
	}
	PQclear(r);
	r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1) {
		log_error("schema check failed: %s", PQerrorMessage(c));
		goto out;
	}
	if (!util_parse_int(PQgetvalue(r, 0, 0), 0, INT_MAX, &v)) {
		log_error("schema check: bad version %s", PQgetvalue(r, 0, 0));
		goto out;
	}
	*version = (int)v;
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* How timestamps come out: what jb_pgtime() reads. */
#define SESSION_FORMAT                                 \
	"set_config('DateStyle', 'ISO, YMD', false), " \
	"set_config('TimeZone', 'UTC', false), "       \
	"set_config('IntervalStyle', 'postgres', false)"

/*
 * The server's timeline, 0 on a standby: the first 8 hex digits of the
 * current WAL file's name.  A promotion starts a new timeline, so this
 * and the server's address tell a new primary from the one before.
 */
#define SESSION_TIMELINE                                                \
	"CASE WHEN pg_is_in_recovery() THEN 0 ELSE ('x' || "            \
	"substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)" \
	"::int END"

/* The event worker's planner settings (see db_setup()). */
#define EV_PLANNING                                            \
	"set_config('plan_cache_mode', 'force_generic_plan', " \
	"false), set_config('enable_seqscan', 'off', false), " \
	"set_config('enable_bitmapscan', 'off', false), "      \
	"set_config('random_page_cost', '1.1', false)"

/*
 * One result of setup's pipeline: true when it has the status wanted.
 * Reads to the command's end (the NULL after its result).
 */
static bool
setup_result(PGconn *c, ExecStatusType want, const char *what, char *sqlstate,
    size_t sqlstate_sz, PGresult **keep)
{
	PGresult *r, *next;
	bool	  ok;

	if ((r = PQgetResult(c)) == NULL) {
		log_error("%s: no result: %s", what, PQerrorMessage(c));
		return false;
	}
	ok = PQresultStatus(r) == want;
	if (!ok && sqlstate != NULL) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(sqlstate, sqlstate_sz, "%s", st != NULL ? st : "");
	}
	if (!ok && PQresultStatus(r) != PGRES_PIPELINE_ABORTED &&
	    sqlstate == NULL)
		log_error("%s failed: %s", what, PQresultErrorMessage(r));
	while ((next = PQgetResult(c)) != NULL)
		PQclear(next);
	if (ok && keep != NULL)
		*keep = r;
	else
		PQclear(r);
	return ok;
}

/*
 * Session settings, the schema check and every prepare, once: sent as
 * one pipeline, so that a new connection costs one round trip past its
 * start-up instead of one per statement (a worker forked for a waiting
 * request waits for this).  A failed command aborts the rest of the
 * pipeline; each result is still read, up to the sync.
 */
static enum terr
db_setup(struct db *db, unsigned *timeline)
{
	PGconn		*c = db->conn;
	PGresult	*vr = NULL, *sr = NULL, *sync;
	char		 ms[32], vstate[8] = "";
	const char	*params[1] = { ms };
	long long	 version = -1;
	bool		 ok = true, vok;

	/*
	 * generic_plans (the event worker's connections): every execution
	 * of a prepared statement reuses one plan.  PostgreSQL's default
	 * ("auto") plans tasks_list anew on every call, because the generic
	 * plan of "LIMIT $4" looks costly; that planning was most of
	 * PostgreSQL's CPU on the list route.  A generic plan is made once,
	 * from the statistics of that moment, and kept: made on a small or
	 * skewed table it can be a sequential scan and sort, 50 times
	 * slower on the grown table (seen in bench/).  So these sessions
	 * also turn off sequential and bitmap scans: every statement the
	 * event worker runs is a lookup by key or by (user_id, created_at),
	 * and an index path is then the only one left, whatever the
	 * statistics (76-plans.sh checks each plan;
	 * "taskapi plans" prints them).  The one bitmap scan is the GIN
	 * index of a search, inside tasks_matching(), whose SET clause
	 * turns them on for its query alone (list_sql.h).  The export would
	 * have no such path worth taking, and the blocking pool, which
	 * streams it, keeps "auto".
	 */
	snprintf(ms, sizeof(ms), "%ld", db->statement_timeout * 1000);
	if (PQenterPipelineMode(c) != 1) {
		log_error("database setup: %s", PQerrorMessage(c));
		return TERR_DB;
	}
	/*
	 * Sending only fills libpq's buffer and the socket's: a few kB in
	 * all, far below either, so the blocking sends cannot deadlock
	 * with a server blocked on its results.
	 */
	if (PQsendQueryParams(c,
		db->generic_plans ?
		    "SELECT set_config('statement_timeout', $1, false), " SESSION_FORMAT
		    ", " EV_PLANNING ", " SESSION_TIMELINE :
		    "SELECT set_config('statement_timeout', $1, false), " SESSION_FORMAT
		    ", " SESSION_TIMELINE,
		1, NULL, params, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(c,
		"SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
		NULL, NULL, NULL, NULL, 0) != 1)
		ok = false;
	for (int st = STMT_NONE + 1; ok && st < STMT__MAX; st++)
		if (PQsendPrepare(c, stmts[st].name, stmts[st].sql,
			stmts[st].nparams, NULL) != 1)
			ok = false;
	if (!ok || PQpipelineSync(c) != 1) {
		log_error("database setup: sending: %s", PQerrorMessage(c));
		return TERR_DB;
	}

	ok = setup_result(c, PGRES_TUPLES_OK, "setting session parameters",
	    NULL, 0, &sr);
	if (ok) {
		long long tl = 0;

		/* The timeline is the last column. */
		if (PQntuples(sr) == 1 && PQnfields(sr) > 0)
			(void)util_parse_int(PQgetvalue(sr, 0,
						 PQnfields(sr) - 1),
			    0, INT_MAX, &tl);
		*timeline = (unsigned)tl;
	}
	PQclear(sr);
	vok = setup_result(c, PGRES_TUPLES_OK, "schema check", vstate,
	    sizeof(vstate), &vr);
	if (vok &&
	    (PQntuples(vr) != 1 ||
		!util_parse_int(PQgetvalue(vr, 0, 0), 0, INT_MAX, &version))) {
		log_error("schema check: bad version");
		ok = false;
	}
	PQclear(vr);
	/* No schema_migrations table (42P01): nothing migrated yet. */
	if (!vok && strcmp(vstate, "42P01") == 0)
		version = 0;
	else if (!vok && ok) {
		log_error("schema check failed (SQLSTATE %s)", vstate);
		ok = false;
	}
	if (ok && version < DB_SCHEMA_VERSION) {
		log_error("database schema is version %lld, this taskapi needs "
			  "%d: run 'taskapi migrate'",
		    version, DB_SCHEMA_VERSION);
		ok = false;
	}
	for (int st = STMT_NONE + 1; st < STMT__MAX; st++) {
		char what[96];

		snprintf(what, sizeof(what), "preparing %s", stmts[st].name);
		/* After a failure above, only read: the rest was aborted. */
		if (!setup_result(c, PGRES_COMMAND_OK, what, NULL, 0, NULL))
			ok = false;
	}
	sync = PQgetResult(c);
	if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) {
		log_error("database setup: no sync: %s", PQerrorMessage(c));
		ok = false;
	}
	PQclear(sync);
	if (PQexitPipelineMode(c) != 1) {
		log_error("database setup: %s", PQerrorMessage(c));
		ok = false;
	}
	return ok ? TERR_OK : TERR_DB;
}

/*
 * True when the idle connection is still usable.  A server that shut
 * down sent a FATAL message and closed the socket; libpq takes the
 * message of an idle connection as a notice and only sees the end of
 * the stream on a later read.  So: read while the socket has something
 * (at most a few times; a healthy idle connection has nothing), and
 * look at the status after each read.  One poll(2) when all is well.
 */
static bool
db_alive(PGconn *c)
{
	for (int i = 0; i < 4; i++) {
		struct pollfd	 p = { .fd = PQsocket(c), .events = POLLIN };

		if (PQstatus(c) != CONNECTION_OK || p.fd < 0)
			return false;
		if (poll(&p, 1, 0) <= 0)
			return true;
		if (PQconsumeInput(c) != 1)
			return false;
	}
	return PQstatus(c) == CONNECTION_OK;
}

/*
 * Called on every new connection: when it reached another server, or the
 * same one on a new timeline (promoted since), than the connection before
 * it, the primary has changed under us: counted and logged.
 */
static void
db_note_server(struct db *db, unsigned timeline)
{
	char now[sizeof(db->primary)];

	snprintf(now, sizeof(now), "%s:%s",
	    PQhost(db->conn) != NULL ? PQhost(db->conn) : "-",
	    PQport(db->conn) != NULL ? PQport(db->conn) : "-");
	if (db->primary[0] != '\0' &&
	    (strcmp(now, db->primary) != 0 || timeline != db->timeline)) {
		log_warn("database: a different primary: %s (timeline %u), "
			 "was %s (timeline %u)",
		    now, timeline, db->primary, db->timeline);
		metrics_db_failover();
	}
	snprintf(db->primary, sizeof(db->primary), "%s", now);
	db->timeline = timeline;
}

enum terr
db_ready(struct db *db)
{
	unsigned timeline = 0;

	int64_t	 now;

	if (db->conn != NULL) {
		/* Found out before a query goes into a dead connection. */
		if (db_alive(db->conn))
			return TERR_OK;
		log_warn("database connection lost; reconnecting");
		db_close(db);
	}
	now = util_mono_us();
	if (now < db->retry_at_us)
		return TERR_DB;
	db->conn = db_connect_once(db->url, db->connect_timeout);
	if (db->conn == NULL || db_setup(db, &timeline) != TERR_OK) {
		db_close(db);
		db->retry_at_us = util_mono_us() + 250000;
		metrics_db_connect(0, 0);
		return TERR_DB;
	}
	metrics_db_connect(1, db->reconnects == 0);
	db->reconnects++;
	db_note_server(db, timeline);
	return TERR_OK;
}

/*
 * PostgreSQL's full error text carries a DETAIL that quotes the data:
 * "Failing row contains (..., $argon2id$...)" for a CHECK on users, "Key
 * (email)=(...)" for a unique key.  Only names are logged: the SQLSTATE,
 * the table, column and constraint, and the primary message except for
 * the data (22) and integrity (23) classes, whose messages may quote a
 * value.
 */
void
db_log_result_error(const char *what, const PGresult *r)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *table = PQresultErrorField(r, PG_DIAG_TABLE_NAME);
	const char *column = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
	const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	bool	    quotes = state == NULL || strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0;

	log_error("%s %s: table %s, column %s, constraint %s%s%s", what,
	    state != NULL ? state : "-", table != NULL ? table : "-",
	    column != NULL ? column : "-", cons != NULL ? cons : "-",
	    quotes || msg == NULL ? "" : ": ",
	    quotes || msg == NULL ? "" : msg);
}

enum terr
db_result_error(struct db *db, const PGresult *r)
{
	const char	*state = NULL;
	enum terr	 e = TERR_INTERNAL;

	db->errors++;
	if (r != NULL)
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_error("database connection broken: %s", db->conn != NULL ?
		    PQerrorMessage(db->conn) : "no connection");
		db_close(db);
		metrics_db_error(MET_DB_UNAVAILABLE);
		return TERR_DB;
	}
	/*
	 * 25006 (a write in a read-only transaction): the session is on a
	 * standby, or on a primary that was demoted and came back read-only.
	 * A 503 like any unavailable database, and the connection goes:
	 * the next one (target_session_attrs=read-write) finds the primary.
	 */
	if (state == NULL || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "40", 2) == 0 || strcmp(state, "25006") == 0)
		e = TERR_DB;
	else if (strcmp(state, "23505") == 0)
		e = TERR_CONFLICT;
	else if (strcmp(state, "23503") == 0)
		e = TERR_UNAUTH;
	else if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)
		e = TERR_INVALID;
	metrics_db_error(e == TERR_DB ? MET_DB_UNAVAILABLE :
	    e == TERR_CONFLICT ? MET_DB_CONFLICT :
	    e == TERR_INVALID ? MET_DB_INVALID : MET_DB_OTHER);
	if (e == TERR_CONFLICT)
		log_info("database: %s", state);
	else if (r != NULL)
		db_log_result_error("database error", r);
	else
		log_error("database error -: %s", PQerrorMessage(db->conn));
	if (state != NULL &&
	    (strncmp(state, "57P", 3) == 0 || strcmp(state, "25006") == 0))
		db_close(db);
	return e;
}

/*
 * Waits until c has a whole result (or its end) to give, at most until
 * deadline.  Returns 1: ready; 0: the deadline passed; -1: the
 * connection broke.
 */
static int
wait_result(PGconn *c, int64_t deadline)
{
	while (PQisBusy(c)) {
		struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };
		int64_t	      left = deadline - util_mono_us();
		int	      n;

		if (left <= 0)
			return 0;
		if (pfd.fd < 0)
			return -1;
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (n == -1 && errno != EINTR)
			return -1;
		if (n > 0 && PQconsumeInput(c) != 1)
			return -1;
	}
	return 1;
}

/*
 * Runs p once and reads every result up to the end of its implicit
 * transaction: the statement's result comes before the commit, and a
 * commit waiting for a synchronous standby that is gone waits without
 * end (statement_timeout has stopped by then).  So the wait is bounded
 * here: past the deadline the statement is cancelled and its results
 * drained.  An error then (57014) means nothing was done: a plain 503.
 * A write that succeeded after the cancel has committed locally but
 * not been confirmed (PostgreSQL's "canceling wait for synchronous
 * replication" warning): outcome unknown, the write may become
 * visible later.
 */
static enum terr
exec_bounded(struct db *db, const struct plan *p, PGresult **res)
{
	PGconn	 *c = db->conn;
	PGresult *ok = NULL, *bad = NULL, *r;
	bool	  cancelled = false, write = !stmts[p->stmt].readonly;
	int64_t	  deadline = util_mono_us() + db_deadline_us(db);

	if (PQsendQueryPrepared(c, stmts[p->stmt].name, p->nparams, p->values,
		NULL, NULL, 0) != 1)
		return db_result_error(db, NULL);
	for (;;) {
		int w = wait_result(c, deadline);

		if (w == 0 && !cancelled) {
			log_warn("%s: no answer from the database after %ld "
				 "ms; cancelling it",
			    stmts[p->stmt].name,
			    (long)(db_deadline_us(db) / 1000));
			(void)db_cancel_async(c);
			cancelled = true;
			deadline = util_mono_us() + DB_CANCEL_DRAIN_US;
			continue;
		}
		if (w != 1) {
			/* Broken, or deaf to the cancel too: nothing more
			 * can be learnt on this connection. */
			log_error("%s: %s; dropping the connection",
			    stmts[p->stmt].name,
			    w == 0 ? "no answer to the cancel" :
				     PQerrorMessage(c));
			PQclear(ok);
			PQclear(bad);
			db->errors++;
			db_close(db);
			metrics_db_error(MET_DB_UNAVAILABLE);
			return cancelled && write ? TERR_UNKNOWN : TERR_DB;
		}
		if ((r = PQgetResult(c)) == NULL)
			break;
		if (ok == NULL && bad == NULL &&
		    (PQresultStatus(r) == PGRES_TUPLES_OK ||
			PQresultStatus(r) == PGRES_COMMAND_OK))
			ok = r;
		else if (bad == NULL && PQresultStatus(r) != PGRES_TUPLES_OK &&
		    PQresultStatus(r) != PGRES_COMMAND_OK)
			bad = r; /* an error after a result: the commit's */
		else
			PQclear(r);
	}
	if (bad != NULL || ok == NULL) {
		enum terr e = db_result_error(db, bad);

		PQclear(ok);
		PQclear(bad);
		return e;
	}
	if (cancelled && write) {
		log_warn("%s: committed locally after the cancel, not "
			 "confirmed by a synchronous standby: outcome unknown",
		    stmts[p->stmt].name);
		PQclear(ok);
		metrics_db_error(MET_DB_UNAVAILABLE);
		return TERR_UNKNOWN;
	}
	*res = ok;
	return TERR_OK;
}

enum terr
db_exec(struct db *db, const struct plan *p, PGresult **res)
{
	enum terr	 e;
	int		 attempt;

	*res = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((e = db_ready(db)) != TERR_OK)
			return e;
		if ((e = exec_bounded(db, p, res)) == TERR_OK)
			return e;
		/* A read that met a dead connection is retried once. */
		if (e != TERR_DB || db->conn != NULL || !stmts[p->stmt].readonly)
			break;
	}
	return e;
}

int64_t
db_deadline_us(const struct db *db)
{
	return db->statement_timeout * 1000000LL + DB_DEADLINE_MARGIN_US;
}
