/*
 * db_conn.c: opening a PostgreSQL connection and making it ready for the
 * statements: the session's settings, the schema check and every
 * statement prepared, sent as one pipeline.
 *
 * One state machine does it (db_open_start, db_open_step), driven by
 * PQconnectPoll: the event worker steps it from its epoll loop, which
 * must go on answering while a connection opens (a failover's connect
 * takes seconds: a host that is gone costs TASKAPI_DB_CONNECT_TIMEOUT,
 * a standby refuses, the next host is tried); db_ready, for the
 * blocking workers and the one-off connections (the master's schema
 * check, migrate) step it under poll(2).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "db.h"
#include "db_resolve.h"
#include "log.h"
#include "util.h"

/* After a failed attempt, none before this long (a database that is
 * down must not cost every request a connect). */
#define DB_RETRY_US 250000

/* Setup's commands: the session settings, the schema check, then one
 * prepare per statement. */
#define SETUP_CMDS (2 + (STMT__MAX - 1))

/* Setup's results, taken as they come (setup_take). */
struct db_setup {
	PGresult *res[SETUP_CMDS];
	size_t	  next; /* the command whose result comes next */
	bool	  got;	/* next's result is in, the NULL after it not yet */
};

#define DB_HOSTS_MAX 32
/* A looked-up name's addresses tried, at most (libpq tries them all). */
#define DB_RADDRS_MAX 8

/*
 * A connection being opened.  libpq's own walk over a multi-host URL
 * gives up on a host after connect_timeout only in its blocking
 * connect; driven by PQconnectPoll, the timeout is the caller's, and
 * there is no way to tell libpq "next host".  So the URL's hosts are
 * tried one at a time, in its order, each with its own deadline and
 * the URL's other settings (target_session_attrs included).  One
 * difference from libpq's walk, on purpose: a host that answers with an
 * error (shutting down, still starting, a proxy whose server is gone)
 * or closes the connection is passed for the next, where libpq gives
 * up on the whole list.  Mid-failover that is the host to skip.
 */
struct db_opening {
	struct db_setup setup;
	bool		setting_up;   /* connected; setup's pipeline sent */
	bool		flushing;     /* part of it not yet sent */
	int64_t		deadline_us;  /* of this host, then of the setup */
	size_t		nhosts, host; /* 1: the URL as it is, in one go */
	char *hosts[DB_HOSTS_MAX], *addrs[DB_HOSTS_MAX], *ports[DB_HOSTS_MAX];
	bool  by_host, by_addr, by_port; /* which lists to walk */
	char *lists;			 /* the strings above point into it */
	/*
	 * The current host's name, being looked up (db->async_dns), then
	 * its addresses, tried in turn as the host's hostaddr.
	 */
	struct db_resolve *resolving;
	char		   raddrs[DB_RADDRS_MAX][DB_ADDR_LEN];
	size_t		   nraddrs, raddr;
	char  errors[512];		 /* each host's failure, for the log */
};

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

static void
setup_clear(struct db_setup *s)
{
	for (size_t i = 0; i < SETUP_CMDS; i++) {
		PQclear(s->res[i]);
		s->res[i] = NULL;
	}
	s->next = 0;
	s->got = false;
}

/* The opening's state, once the connection is open or given up. */
static void
opening_free(struct db *db)
{
	if (db->opening != NULL) {
		setup_clear(&db->opening->setup);
		db_resolve_drop(db->opening->resolving);
		free(db->opening->lists);
		free(db->opening);
		db->opening = NULL;
	}
}

void
db_close(struct db *db)
{
	if (db->conn != NULL) {
		PQfinish(db->conn);
		db->conn = NULL;
	}
	opening_free(db);
}

/* libpq's message about c, without its trailing newlines, in buf. */
static const char *
conn_error(const PGconn *c, char *buf, size_t sz)
{
	size_t n;

	snprintf(buf, sz, "%s", PQerrorMessage(c));
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
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
	struct db db;
	PGconn	 *c;

	db_init(&db, url, connect_timeout, 0);
	db.bare = true;
	if (db_ready(&db) != TERR_OK)
		return NULL;
	c = db.conn;
	db.conn = NULL;
	return c;
}

int
db_schema_version(PGconn *c, int *version)
{
	PGresult *r;
	long long v;
	int	  rc = -1;

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
	r = PQexec(c,
	    "SELECT coalesce(max(version), 0) FROM schema_migrations");
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

/* The event worker's planner settings (see setup_send()). */
#define EV_PLANNING                                            \
	"set_config('plan_cache_mode', 'force_generic_plan', " \
	"false), set_config('enable_seqscan', 'off', false), " \
	"set_config('enable_bitmapscan', 'off', false), "      \
	"set_config('random_page_cost', '1.1', false)"

/*
 * Sends setup's pipeline: the session settings, the schema check and
 * every prepare, then a sync, so that a new connection costs one round
 * trip past its start-up instead of one per statement (a worker forked
 * for a waiting request waits for this).  A failed command aborts the
 * rest of the pipeline; each result is still read, up to the sync.
 */
static enum terr
setup_send(struct db *db)
{
	PGconn	   *c = db->conn;
	char	    ms[32];
	const char *params[1] = { ms };
	bool	    ok = true;

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
	/* The connection is non-blocking: this fills libpq's buffer, and
	 * setup_step flushes it as the socket takes it. */
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
		if (PQsendPrepare(c, db_stmt_name((enum stmt)st),
			db_stmt_sql((enum stmt)st),
			db_stmt_nparams((enum stmt)st), NULL) != 1)
			ok = false;
	if (!ok || PQpipelineSync(c) != 1) {
		log_error("database setup: sending: %s", PQerrorMessage(c));
		return TERR_DB;
	}
	return TERR_OK;
}

/*
 * Takes setup's next answer r (what PQgetResult returned): each command
 * answers a result then a NULL, and the sync comes last.  Returns 1 once
 * the sync is in, 0 while more is to come, -1 when the answers are out
 * of step (a NULL with no result: the connection broke).
 */
static int
setup_take(struct db_setup *s, PGresult *r)
{
	if (s->next == SETUP_CMDS) {
		bool sync =
		    r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;

		PQclear(r);
		return sync ? 1 : -1;
	}
	if (r == NULL) {
		if (!s->got)
			return -1;
		s->next++;
		s->got = false;
	} else if (s->got) {
		PQclear(r); /* a command answers one result: not expected */
	} else {
		s->res[s->next] = r;
		s->got = true;
	}
	return 0;
}

/* A failed command of setup's pipeline is logged, unless it was only
 * skipped after an earlier one failed. */
static bool
setup_ok(const PGresult *r, ExecStatusType want, const char *what)
{
	if (r != NULL && PQresultStatus(r) == want)
		return true;
	if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_ABORTED)
		log_error("%s failed: %s", what,
		    r != NULL ? PQresultErrorMessage(r) : "no result");
	return false;
}

/*
 * What setup's answers say: the timeline (*timeline), a schema this
 * binary can use, every statement prepared.  Frees the results and
 * takes the connection out of pipeline mode.
 */
static enum terr
setup_check(struct db *db, struct db_setup *s, unsigned *timeline)
{
	const PGresult *sr = s->res[0], *vr = s->res[1];
	const char     *vstate = NULL;
	long long	version = -1;
	bool		ok, vok;

	ok = setup_ok(sr, PGRES_TUPLES_OK, "setting session parameters");
	if (ok) {
		long long tl = 0;

		/* The timeline is the last column. */
		if (PQntuples(sr) == 1 && PQnfields(sr) > 0)
			(void)util_parse_int(PQgetvalue(sr, 0,
						 PQnfields(sr) - 1),
			    0, INT_MAX, &tl);
		*timeline = (unsigned)tl;
	}
	vok = vr != NULL && PQresultStatus(vr) == PGRES_TUPLES_OK;
	if (!vok && vr != NULL)
		vstate = PQresultErrorField(vr, PG_DIAG_SQLSTATE);
	if (vok &&
	    (PQntuples(vr) != 1 ||
		!util_parse_int(PQgetvalue(vr, 0, 0), 0, INT_MAX, &version))) {
		log_error("schema check: bad version");
		ok = false;
	}
	/* No schema_migrations table (42P01): nothing migrated yet. */
	if (!vok && vstate != NULL && strcmp(vstate, "42P01") == 0)
		version = 0;
	else if (!vok && ok) {
		log_error("schema check failed (SQLSTATE %s)",
		    vstate != NULL ? vstate : "-");
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

		snprintf(what, sizeof(what), "preparing %s",
		    db_stmt_name((enum stmt)st));
		if (!setup_ok(s->res[1 + st], PGRES_COMMAND_OK, what))
			ok = false;
	}
	setup_clear(s);
	if (PQexitPipelineMode(db->conn) != 1) {
		log_error("database setup: %s", PQerrorMessage(db->conn));
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
		struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };

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

/* A connection made ready: counted, and its server noted. */
static void
connect_ready(struct db *db, unsigned timeline)
{
	metrics_db_connect(1, db->reconnects == 0);
	db->reconnects++;
	db_note_server(db, timeline);
}

/* An attempt that failed: closed, counted, and the next one held off. */
static void
connect_failed(struct db *db)
{
	db_close(db);
	db->retry_at_us = util_mono_us() + DB_RETRY_US;
	if (!db->bare)
		metrics_db_connect(0, 0);
}

/*
 * Blocking, on the same steps as the event worker's: one connection
 * code, one walk over the URL's hosts.  poll(2) waits for the socket as
 * each step asks, a quarter second at most, so that the hosts'
 * deadlines are checked.
 */
enum terr
db_ready(struct db *db)
{
	enum db_step st;

	if (db->conn != NULL && db->opening == NULL) {
		/* Found out before a query goes into a dead connection. */
		if (db_alive(db->conn))
			return TERR_OK;
		log_warn("database connection lost; reconnecting");
		db_close(db);
	}
	if ((st = db_open_start(db, util_mono_us())) == DB_STEP_FAILED)
		return TERR_DB;
	for (;;) {
		struct pollfd p = { .fd = db_socket(db),
			.events = st == DB_STEP_WRITE ? POLLOUT : POLLIN };
		int	      n = poll(&p, 1, 250);
		enum db_step  next;

		if (n == -1 && errno != EINTR) {
			log_error("database connection: poll: %s",
			    strerror(errno));
			connect_failed(db);
			return TERR_DB;
		}
		next = db_open_step(db, n > 0, util_mono_us());
		if (next == DB_STEP_READY) {
			/* The blocking workers' statements block. */
			if (PQsetnonblocking(db->conn, 0) != 0) {
				connect_failed(db);
				return TERR_DB;
			}
			return TERR_OK;
		}
		if (next == DB_STEP_FAILED)
			return TERR_DB;
		if (next != DB_STEP_WAIT)
			st = next;
	}
}

/* --- opening without blocking ---------------------------------------- */

/*
 * Splits libpq's comma-separated list s in place into v (a backslash
 * keeps the next character, as libpq reads it).  Returns how many, or
 * max + 1 when there are more.
 */
static size_t
split_list(char *s, char **v, size_t max)
{
	size_t n = 0;
	char  *w = s;

	if (s == NULL || *s == '\0')
		return 0;
	v[n++] = w;
	for (const char *r = s; *r != '\0'; r++) {
		if (*r == '\\' && r[1] != '\0') {
			*w++ = *++r;
		} else if (*r == ',') {
			*w++ = '\0';
			if (n == max)
				return max + 1;
			v[n++] = w;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return n;
}

/*
 * The URL's host, hostaddr and port lists, for trying its hosts one at
 * a time (one host too: its name may have to be looked up off the event
 * loop).  When they cannot be walked that way (no host, too many, a list
 * whose length libpq would refuse), the URL is tried as it is.
 */
static void
hosts_parse(const struct db *db, struct db_opening *o)
{
	PQconninfoOption *opts;
	char		 *err = NULL, *p;
	const char	 *val[3] = { NULL, NULL, NULL };
	const char	 *names[3] = { "host", "hostaddr", "port" };
	char		**lists[3] = { o->hosts, o->addrs, o->ports };
	size_t		  len = 3, n[3], hosts;

	o->nhosts = 1;
	if ((opts = PQconninfoParse(db->url, &err)) == NULL) {
		PQfreemem(err); /* the connect reports what is wrong */
		return;
	}
	for (const PQconninfoOption *opt = opts; opt->keyword != NULL; opt++)
		for (int k = 0; k < 3; k++)
			if (strcmp(opt->keyword, names[k]) == 0 &&
			    opt->val != NULL) {
				val[k] = opt->val;
				len += strlen(opt->val);
			}
	if ((o->lists = malloc(len)) == NULL) {
		PQconninfoFree(opts);
		return;
	}
	p = o->lists;
	for (int k = 0; k < 3; k++) {
		size_t l = val[k] != NULL ? strlen(val[k]) : 0;

		memcpy(p, val[k] != NULL ? val[k] : "", l + 1);
		n[k] = split_list(p, lists[k], DB_HOSTS_MAX);
		p += l + 1;
	}
	PQconninfoFree(opts);
	hosts = n[0] > 0 ? n[0] : n[1];
	if (hosts < 1 || hosts > DB_HOSTS_MAX || (n[0] != 0 && n[0] != hosts) ||
	    (n[1] != 0 && n[1] != hosts) || (n[2] > 1 && n[2] != hosts))
		return;
	/* An empty entry means libpq's default, which an empty value given
	 * after the URL would not say: such a list is tried as it is. */
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; n[k] > 1 && i < n[k]; i++)
			if (lists[k][i][0] == '\0')
				return;
	o->nhosts = hosts;
	o->by_host = n[0] == hosts;
	o->by_addr = n[1] == hosts;
	o->by_port = n[2] == hosts;
}

/* Adds what libpq said of a host that failed to o's errors. */
static void
host_error(struct db_opening *o, const char *msg)
{
	size_t used = strlen(o->errors);

	if (used + 3 < sizeof(o->errors))
		snprintf(o->errors + used, sizeof(o->errors) - used, "%s%s",
		    used > 0 ? "; " : "", msg);
}

/* On from o's current address: the host's next one, or the next host. */
static void
host_advance(struct db_opening *o)
{
	if (o->raddr + 1 < o->nraddrs) {
		o->raddr++;
		return;
	}
	o->host++;
	o->nraddrs = o->raddr = 0;
}

/*
 * Starts a connection to o's current host (to all of the URL's, when
 * it is tried as it is); a host that fails at once is passed for the
 * next.  A host name the event worker would have libpq look up (and
 * wait for) is looked up in a thread first (db_resolve.h), then each
 * of its addresses is tried as the host's hostaddr, as libpq would.
 * 0: a connection is under way (its socket to be written); 1: a name
 * is being looked up (db_socket() becomes readable); -1: no host left.
 */
static int
host_start(struct db *db, struct db_opening *o, int64_t now)
{
	for (; o->host < o->nhosts; host_advance(o)) {
		const char *keys[7], *vals[7], *addr = NULL;
		char	    ct[24], msg[256];
		int	    k = 0;

		if (o->by_addr)
			addr = o->addrs[o->host];
		else if (o->nraddrs > 0)
			addr = o->raddrs[o->raddr];
		else if (o->by_host && db->async_dns &&
		    db_resolve_needed(o->hosts[o->host])) {
			o->resolving = db_resolve_start(o->hosts[o->host]);
			if (o->resolving != NULL) {
				o->deadline_us =
				    now + db->connect_timeout * 1000000LL;
				return 1;
			}
			snprintf(msg, sizeof(msg), "looking up \"%s\": %s",
			    o->hosts[o->host],
			    errno == EAGAIN ? "too many lookups still running" :
					      strerror(errno));
			host_error(o, msg);
			continue;
		}
		snprintf(ct, sizeof(ct), "%ld", db->connect_timeout);
		keys[k] = "connect_timeout";
		vals[k++] = ct;
		keys[k] = "application_name";
		vals[k++] = "taskapi";
		/* The URL, then the one host: later keys win. */
		keys[k] = "dbname";
		vals[k++] = db->url;
		if (o->by_host) {
			keys[k] = "host";
			vals[k++] = o->hosts[o->host];
		}
		if (addr != NULL) {
			keys[k] = "hostaddr";
			vals[k++] = addr;
		}
		if (o->by_port) {
			keys[k] = "port";
			vals[k++] = o->ports[o->host];
		}
		keys[k] = vals[k] = NULL;
		if ((db->conn = PQconnectStartParams(keys, vals, 1)) == NULL) {
			host_error(o, "out of memory");
			return -1;
		}
		if (PQstatus(db->conn) != CONNECTION_BAD) {
			o->deadline_us = now + db->connect_timeout * 1000000LL;
			return 0;
		}
		host_error(o, conn_error(db->conn, msg, sizeof(msg)));
		PQfinish(db->conn);
		db->conn = NULL;
	}
	return -1;
}

/* The attempt failed (why: logged): closed, and the next held off. */
static enum db_step
open_failed(struct db *db, const char *why)
{
	log_warn("database connection failed: %s", why);
	connect_failed(db);
	return DB_STEP_FAILED;
}

/* What host_start's rc asks of the caller. */
static enum db_step
host_started(struct db *db, struct db_opening *o, int rc)
{
	if (rc == 0)
		return DB_STEP_WRITE; /* a new socket, connecting */
	if (rc == 1)
		return DB_STEP_READ; /* a name being looked up */
	return open_failed(db, o->errors);
}

enum db_step
db_open_start(struct db *db, int64_t now)
{
	struct db_opening *o;

	if (db->opening != NULL)
		return db->opening->resolving != NULL ? DB_STEP_READ :
							DB_STEP_WRITE;
	db_close(db);
	if (now < db->retry_at_us)
		return DB_STEP_FAILED;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		log_error("database connection: out of memory");
		return DB_STEP_FAILED;
	}
	db->opening = o;
	hosts_parse(db, o);
	return host_started(db, o, host_start(db, o, now));
}

/* The current address failed: the next one, or the attempt has failed. */
static enum db_step
host_next(struct db *db, struct db_opening *o, int64_t now)
{
	PQfinish(db->conn);
	db->conn = NULL;
	db_resolve_drop(o->resolving);
	o->resolving = NULL;
	host_advance(o);
	return host_started(db, o, host_start(db, o, now));
}

/* The current host's name has been looked up: its first address. */
static enum db_step
resolved(struct db *db, struct db_opening *o, int64_t now)
{
	char msg[256];
	int  rc = db_resolve_take(o->resolving, o->raddrs, DB_RADDRS_MAX,
	     &o->nraddrs, msg, sizeof(msg));

	if (rc == 0)
		return DB_STEP_READ; /* (woken early: cannot be) */
	db_resolve_drop(o->resolving);
	o->resolving = NULL;
	if (rc == -1) {
		host_error(o, msg);
		host_advance(o);
	}
	return host_started(db, o, host_start(db, o, now));
}

/* Connected: setup's answers, as far as they have come. */
static enum db_step
setup_step(struct db *db, struct db_opening *o)
{
	char msg[256];
	int  rc;

	if (o->flushing) {
		if ((rc = PQflush(db->conn)) == -1)
			return open_failed(db,
			    conn_error(db->conn, msg, sizeof(msg)));
		o->flushing = rc == 1;
	}
	if (PQconsumeInput(db->conn) != 1)
		return open_failed(db, conn_error(db->conn, msg, sizeof(msg)));
	while (!PQisBusy(db->conn)) {
		unsigned timeline = 0;

		if ((rc = setup_take(&o->setup, PQgetResult(db->conn))) == 0)
			continue;
		if (rc == -1)
			return open_failed(db,
			    conn_error(db->conn, msg, sizeof(msg)));
		if (setup_check(db, &o->setup, &timeline) != TERR_OK)
			return open_failed(db, "setup failed (logged above)");
		opening_free(db);
		connect_ready(db, timeline);
		return DB_STEP_READY;
	}
	return o->flushing ? DB_STEP_WRITE : DB_STEP_READ;
}

enum db_step
db_open_step(struct db *db, bool io, int64_t now)
{
	struct db_opening *o = db->opening;
	char		   msg[256];

	if (o == NULL || (db->conn == NULL && o->resolving == NULL))
		return DB_STEP_FAILED;
	/* Checked whatever woke us: a server can trickle bytes for ever. */
	if (now > o->deadline_us) {
		if (o->setting_up)
			return open_failed(db,
			    "no answer to the session setup");
		if (o->resolving != NULL) {
			snprintf(msg, sizeof(msg),
			    "looking up \"%s\": timeout expired",
			    o->hosts[o->host]);
			host_error(o, msg);
		} else {
			host_error(o, "timeout expired");
		}
		return host_next(db, o, now);
	}
	if (!io)
		return DB_STEP_WAIT;
	if (o->resolving != NULL)
		return resolved(db, o, now);
	if (o->setting_up)
		return setup_step(db, o);
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		return DB_STEP_READ;
	case PGRES_POLLING_WRITING:
		return DB_STEP_WRITE;
	case PGRES_POLLING_OK:
		break;
	default: /* PGRES_POLLING_FAILED */
		host_error(o, conn_error(db->conn, msg, sizeof(msg)));
		return host_next(db, o, now);
	}
	/* It returns the receiver it replaces: nothing to check. */
	(void)PQsetNoticeReceiver(db->conn, notice_log, NULL);
	if (db->bare) {
		opening_free(db);
		return DB_STEP_READY;
	}
	if (PQsetnonblocking(db->conn, 1) != 0 || setup_send(db) != TERR_OK)
		return open_failed(db, conn_error(db->conn, msg, sizeof(msg)));
	o->setting_up = o->flushing = true;
	/* A server that took the connection answers its setup promptly. */
	o->deadline_us = now + db->connect_timeout * 1000000LL;
	return setup_step(db, o);
}

int
db_socket(const struct db *db)
{
	if (db->conn != NULL)
		return PQsocket(db->conn);
	if (db->opening != NULL && db->opening->resolving != NULL)
		return db_resolve_fd(db->opening->resolving);
	return -1;
}

bool
db_connected(const struct db *db)
{
	return db->conn != NULL && db->opening == NULL;
}
