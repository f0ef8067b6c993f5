/*
 * db_exec.c: running a plan on a blocking connection (the blocking
 * workers, "taskapi plans") with its deadline, and mapping a failed
 * result to a status.  The event worker runs plans in ev_pipeline.c and
 * maps its errors here too.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "db.h"
#include "db_cancel.h"
#include "log.h"
#include "util.h"

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
		    "EXPLAIN (COSTS OFF) EXECUTE %s",
		    db_stmt_name((enum stmt)s));
		for (int i = 0;
		     i < db_stmt_nparams((enum stmt)s) && off < sizeof(sql);
		     i++)
			off += (size_t)snprintf(sql + off, sizeof(sql) - off,
			    "%sNULL", i == 0 ? "(" : ", ");
		if (db_stmt_nparams((enum stmt)s) > 0 && off < sizeof(sql))
			off +=
			    (size_t)snprintf(sql + off, sizeof(sql) - off, ")");
		if (off >= sizeof(sql))
			return -1;
		r = PQexec(db->conn, sql);
		if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
			log_error("explaining %s: %s",
			    db_stmt_name((enum stmt)s),
			    PQerrorMessage(db->conn));
			PQclear(r);
			return -1;
		}
		fprintf(out, "== %s\n", db_stmt_name((enum stmt)s));
		for (int row = 0; row < PQntuples(r); row++)
			fprintf(out, "%s\n", PQgetvalue(r, row, 0));
		PQclear(r);
	}
	return 0;
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
	const char *state = NULL;
	enum terr   e = TERR_INTERNAL;

	db->errors++;
	if (r != NULL)
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_error("database connection broken: %s",
		    db->conn != NULL ? PQerrorMessage(db->conn) :
				       "no connection");
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
		e == TERR_CONFLICT    ? MET_DB_CONFLICT :
		e == TERR_INVALID     ? MET_DB_INVALID :
					MET_DB_OTHER);
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
	bool	  cancelled = false, write = !db_stmt_readonly(p->stmt);
	int64_t	  deadline = util_mono_us() + db_deadline_us(db);

	if (PQsendQueryPrepared(c, db_stmt_name(p->stmt), p->nparams, p->values,
		NULL, NULL, db_stmt_binary(p->stmt) ? 1 : 0) != 1)
		return db_result_error(db, NULL);
	for (;;) {
		int w = wait_result(c, deadline);

		if (w == 0 && !cancelled) {
			log_warn("%s: no answer from the database after %ld "
				 "ms; cancelling it",
			    db_stmt_name(p->stmt),
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
			    db_stmt_name(p->stmt),
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
		    db_stmt_name(p->stmt));
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
	enum terr e;
	int	  attempt;

	*res = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((e = db_ready(db)) != TERR_OK)
			return e;
		if ((e = exec_bounded(db, p, res)) == TERR_OK)
			return e;
		/* A read that met a dead connection is retried once. */
		if (e != TERR_DB || db->conn != NULL ||
		    !db_stmt_readonly(p->stmt))
			break;
	}
	return e;
}

int64_t
db_deadline_us(const struct db *db)
{
	return db->statement_timeout * 1000000LL + DB_DEADLINE_MARGIN_US;
}
