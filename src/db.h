/*
 * db.h: the PostgreSQL side.  Every SQL statement the service runs is a
 * row of one table (enum stmt -> name, text, parameter count), prepared
 * once per connection.  A handler's plan names a statement and its text
 * parameters; the worker loop runs it however it likes (blocking here,
 * pipelined in an event loop) and hands the PGresult back to render.
 */
#ifndef TASKAPI_DB_H
#define TASKAPI_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "terr.h"

/* The schema version this binary needs (the newest migration it knows). */
#define DB_SCHEMA_VERSION 4

enum stmt {
	STMT_NONE = 0,		/* the plan needs no database */
	STMT_PING,
	STMT_USER_INSERT,
	STMT_USER_BY_EMAIL,
	STMT_USER_ME,
	STMT_USERS_LIST,
	STMT_USER_GET,
	STMT_USER_EXISTS,
	STMT_USER_UPDATE,
	STMT_USER_DELETE,
	STMT_TASKS_LIST,
	STMT_TASK_INSERT,
	STMT_TASK_GET,
	STMT_TASK_GET_BATCH, /* the event worker's, for several GETs */
	STMT_TASK_UPDATE,
	STMT_TASK_DELETE,
	STMT_TASKS_EXPORT,
	STMT_TASK_INSERT_KEYED,
	STMT_USER_INSERT_KEYED,
	/*
	 * The sorted, filtered, keyset-paged task lists (list_sql.h), in
	 * enum list_sort's order: plain, then the same eight with q.
	 */
	STMT_TASKS_PAGE_CREATED_DESC,
	STMT_TASKS_PAGE_CREATED_ASC,
	STMT_TASKS_PAGE_UPDATED_DESC,
	STMT_TASKS_PAGE_UPDATED_ASC,
	STMT_TASKS_PAGE_DUE_DESC,
	STMT_TASKS_PAGE_DUE_ASC,
	STMT_TASKS_PAGE_PRIORITY_DESC,
	STMT_TASKS_PAGE_PRIORITY_ASC,
	STMT_TASKS_SEARCH_CREATED_DESC,
	STMT_TASKS_SEARCH_CREATED_ASC,
	STMT_TASKS_SEARCH_UPDATED_DESC,
	STMT_TASKS_SEARCH_UPDATED_ASC,
	STMT_TASKS_SEARCH_DUE_DESC,
	STMT_TASKS_SEARCH_DUE_ASC,
	STMT_TASKS_SEARCH_PRIORITY_DESC,
	STMT_TASKS_SEARCH_PRIORITY_ASC,
	STMT__MAX
};

#define PLAN_MAXPARAMS 16

/*
 * A statement and its parameters.  Values point into the request (path
 * id, user id, JSON strings) or into the plan's own arena; all of them
 * live until the request ends.  NULL values are SQL NULLs.
 */
struct plan {
	enum stmt	 stmt;
	int		 nparams;
	const char	*values[PLAN_MAXPARAMS];
	char		*arena;		/* owned, kept across requests */
	size_t		 arena_len;
	size_t		 arena_cap;
};

/* Adds a parameter; s may be NULL (SQL NULL). */
void	plan_param(struct plan *, const char *s);
/*
 * Adds a copy of len bytes at s as a NUL-terminated parameter.
 * Returns TERR_OK or TERR_NOMEM.
 */
enum terr plan_param_copy(struct plan *, const char *s, size_t len);
/* Adds a formatted parameter (numbers, booleans). */
enum terr plan_param_fmt(struct plan *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Makes sure the arena holds n bytes; call before the first parameter
 * (values point into the arena, so it never moves while a plan is
 * built).  Returns TERR_OK or TERR_NOMEM.
 */
enum terr plan_reserve(struct plan *, size_t n);
/* Clears the plan; a large arena is given back. */
void	plan_reset(struct plan *);
void	plan_free(struct plan *);

const char *db_stmt_name(enum stmt);
const char *db_stmt_sql(enum stmt);
int	 db_stmt_nparams(enum stmt);
/* True when the statement only reads (and may be retried anywhere). */
bool db_stmt_readonly(enum stmt);
/*
 * Whether the statement's results come in binary format (pgval.h): the
 * task reads the event worker serves most, whose uuids and timestamps
 * PostgreSQL converts to text at a cost.  Whatever reads their results
 * reads through pgval.h or render.h, which take either format.
 */
bool db_stmt_binary(enum stmt);
/*
 * The one existing row a write locks until its transaction ends (a
 * task's id, an Idempotency-Key), as a string that orders it among
 * every other such row; NULL when the statement locks none (a read, or
 * an insert of a new row).  The event worker sends a segment's writes
 * in this order (ev_pipeline.h).
 */
const char *
db_plan_lock_key(const struct plan *);

struct db_opening;

struct db {
	PGconn		*conn;
	/* Set while a connection opens without blocking (db_open_start). */
	struct db_opening *opening;
	const char	*url;		/* borrowed from struct conf */
	long		 connect_timeout;	/* s */
	long		 statement_timeout;	/* s */
	bool		   generic_plans;	  /* see setup_send() */
	bool		   bare; /* no setup: a one-off (db_connect_once) */
	/*
	 * Host names looked up in a thread, within the connect timeout
	 * (db_resolve.h), not by libpq, which blocks on them without a
	 * bound.  The workers' connections; not the master's one-off
	 * connections: a lookup thread still running when the master forks
	 * could leave the resolver's locks held in the child.
	 */
	bool		 async_dns;
	int64_t		 retry_at_us;	/* monotonic; no attempt before */
	unsigned long	 reconnects;
	unsigned long	 errors;
	/*
	 * The server the last connection reached ("host:port", "" before
	 * the first) and its timeline (0 when it was read-only): a
	 * reconnect that finds another one has met a failover.
	 */
	char	 primary[96];
	unsigned timeline;
};

/* Sets up an unconnected handle; nothing is allocated yet. */
void	db_init(struct db *, const char *url, long connect_timeout,
	    long statement_timeout);

/*
 * Makes sure there is a live, prepared connection: connects when there
 * is none (at most every 250 ms while the database is down; the URL's
 * hosts in turn, TASKAPI_DB_CONNECT_TIMEOUT each), and drops a
 * connection the server has closed.  Blocks.  Returns TERR_OK or
 * TERR_DB.
 */
enum terr db_ready(struct db *);

/*
 * Opening a connection from an event loop, without blocking: the same
 * connection and setup as db_ready, in steps.  db_open_start starts it
 * (DB_STEP_WRITE, or DB_STEP_READ while a host name is looked up), or
 * returns DB_STEP_FAILED when it cannot start now (it failed at once, or
 * the last attempt failed less than 250 ms ago; logged).  Then the
 * caller waits for db_socket() to be writable (DB_STEP_WRITE) or
 * readable (DB_STEP_READ) and calls db_open_step with io set; and at
 * least once a second without io, for the deadlines: each host of the
 * URL has TASKAPI_DB_CONNECT_TIMEOUT, then the next is tried, as libpq
 * does in its blocking connect.  The socket can change from one step to
 * the next (another host, another address).  DB_STEP_READY: connected
 * and set up (db_connected); DB_STEP_FAILED: closed, logged, counted;
 * DB_STEP_WAIT: nothing changed (a step without io before a deadline).
 * With async_dns, a host name is looked up in a thread first, within
 * the host's TASKAPI_DB_CONNECT_TIMEOUT, and each of its addresses is
 * tried in turn; without it libpq looks it up, blocking, with no
 * bound of its own.
 */
enum db_step {
	DB_STEP_FAILED = -1,
	DB_STEP_READY = 0,
	DB_STEP_READ,
	DB_STEP_WRITE,
	DB_STEP_WAIT
};
enum db_step
db_open_start(struct db *, int64_t now);
enum db_step
db_open_step(struct db *, bool io, int64_t now);
/* The connection's socket (-1: none); while opening, the current one. */
int
db_socket(const struct db *);
/* Connected and set up: not closed, not still opening. */
bool
db_connected(const struct db *);

/*
 * How long a statement may wait for its answer, commit included, before
 * it is cancelled: the statement_timeout (TASKAPI_DB_COMMIT_TIMEOUT)
 * plus a margin, so that PostgreSQL's own timeout ends a slow statement
 * first (nothing done: a plain 503) and the cancel ends what it cannot
 * end: a commit waiting for a synchronous standby.  After the cancel,
 * its answer is awaited DB_CANCEL_DRAIN_US more, then the connection
 * is dropped.  With the defaults (30 s) a worker answers by 31.5 s,
 * before nginx's fastcgi_read_timeout (32 s) and the master's
 * stuck-worker kill (35 s).
 */
#define DB_DEADLINE_MARGIN_US (500 * 1000LL)
#define DB_CANCEL_DRAIN_US    (1000 * 1000LL)
int64_t
db_deadline_us(const struct db *);

/*
 * Runs plan (blocking) and returns the result in *res (PQclear it), once
 * its transaction has ended (committed).  Past db_deadline_us() it is
 * cancelled: TERR_DB when nothing was done, TERR_UNKNOWN for a write
 * that committed locally without the confirmation it waited for.
 */
enum terr db_exec(struct db *, const struct plan *, PGresult **res);

/*
 * Maps a failed result (or NULL) to a status: unique violation 409, a
 * foreign-key violation 401 (the user vanished mid-request), data
 * errors 400, timeouts and connection loss 503.  Logs the detail and
 * drops the connection when it is broken.
 */
enum terr db_result_error(struct db *, const PGresult *);

/*
 * Opens a one-off connection (migrate, the master's schema check): the
 * URL's hosts in turn, as db_ready, without the session setup.  Returns
 * NULL and logs on failure.
 */
PGconn	*db_connect_once(const char *url, long connect_timeout);

/*
 * Reads the applied schema version (0 when there is no
 * schema_migrations table).  Returns 0 on success, -1 on error.
 */
int	 db_schema_version(PGconn *, int *version);

void	db_close(struct db *);

/* Prints every statement's plan in db's session (taskapi plans). */
int
db_explain(struct db *, FILE *);

/*
 * Logs a failed statement's result without PostgreSQL's DETAIL (which
 * quotes row data): SQLSTATE, table, column, constraint.
 */
void
db_log_result_error(const char *what, const PGresult *r);

#endif /* TASKAPI_DB_H */
