/*
 * conf.c: environment and env-file settings.  Every variable is listed
 * once in conf_vars with its default and its documentation, so --help,
 * doc/INSTALL.md and the parser cannot drift apart.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "util.h"

#ifndef PKGDATADIR
#define PKGDATADIR "/usr/local/share/taskapi"
#endif

enum var {
	VAR_DATABASE_URL,
	VAR_MIGRATE_DATABASE_URL,
	VAR_JWT_SECRET,
	VAR_JWT_TTL,
	VAR_WORKERS,
	VAR_SPARE_WORKERS,
	VAR_WORKER_IDLE_TIMEOUT,
	VAR_LOG_LEVEL,
	VAR_LOG_FORMAT,
	VAR_LISTEN,
	VAR_MIGRATIONS_DIR,
	VAR_USER,
	VAR_PID_FILE,
	VAR_REQUEST_TIMEOUT,
	VAR_DB_CONNECT_TIMEOUT,
	VAR_DB_COMMIT_TIMEOUT,
	VAR_MAX_REQUESTS,
	VAR_SHUTDOWN_TIMEOUT,
	VAR_LISTEN_BACKLOG,
	VAR_EV_LISTEN,
	VAR_EV_WORKERS,
	VAR_EV_DB_CONNECTIONS,
	VAR_EV_BATCH_READS,
	VAR_EV_MAX_CONNECTIONS,
	VAR_REQUIRE_IF_MATCH,
	VAR__MAX
};

struct var_def {
	const char	*name;
	const char	*def;	/* NULL: no default */
	const char	*doc;
};

static const struct var_def conf_vars[VAR__MAX] = {
	[VAR_DATABASE_URL] = { "DATABASE_URL", "postgresql:///taskapi",
	    "libpq connection URI or key=value string" },
	[VAR_MIGRATE_DATABASE_URL] = { "TASKAPI_MIGRATE_DATABASE_URL", NULL,
	    "what 'taskapi migrate' connects with: the schema owner's role "
	    "(default: DATABASE_URL)" },
	[VAR_JWT_SECRET] = { "JWT_SECRET", NULL,
	    "HS256 signing key, at least 32 bytes (required)" },
	[VAR_JWT_TTL] = { "JWT_TTL", "3600", "token lifetime in seconds" },
	[VAR_WORKERS] = { "TASKAPI_WORKERS", NULL,
	    "blocking worker processes at most (default: 2 per usable CPU)" },
	[VAR_SPARE_WORKERS] = { "TASKAPI_SPARE_WORKERS", "0",
	    "idle blocking workers kept ready; more start as requests take "
	    "them, up to TASKAPI_WORKERS (equal to it: a fixed pool; 0: "
	    "none, each starts when a request waits)" },
	[VAR_WORKER_IDLE_TIMEOUT] = { "TASKAPI_WORKER_IDLE_TIMEOUT", "10",
	    "seconds a blocking worker beyond the spare ones may stay idle "
	    "before it is stopped" },
	[VAR_LOG_LEVEL] = { "LOG_LEVEL", "info", "debug, info, warn or error" },
	[VAR_LOG_FORMAT] = { "LOG_FORMAT", "json", "json or text" },
	[VAR_LISTEN] = { "TASKAPI_LISTEN", NULL,
	    "unix:PATH or HOST:PORT (default: the socket on fd 0, as spawn-fcgi passes it)" },
	[VAR_MIGRATIONS_DIR] = { "TASKAPI_MIGRATIONS_DIR",
	    PKGDATADIR "/migrations",
	    "where 'taskapi migrate' finds NNNN_*.sql" },
	[VAR_USER] = { "TASKAPI_USER", "taskapi",
	    "user to switch to when started as root" },
	[VAR_PID_FILE] = { "TASKAPI_PID_FILE", NULL,
	    "write the master's pid here" },
	[VAR_REQUEST_TIMEOUT] = { "TASKAPI_REQUEST_TIMEOUT", "30",
	    "seconds a request may run (statement_timeout unless TASKAPI_DB_COMMIT_TIMEOUT is lower; the master kills a worker stuck 5 s past it)" },
	[VAR_DB_CONNECT_TIMEOUT] = { "TASKAPI_DB_CONNECT_TIMEOUT", "2",
	    "seconds to wait for a database connection, per host of DATABASE_URL" },
	[VAR_DB_COMMIT_TIMEOUT] = { "TASKAPI_DB_COMMIT_TIMEOUT", NULL,
	    "seconds a statement may wait for PostgreSQL's answer, its commit "
	    "included (a commit waiting for a synchronous standby is bounded "
	    "by nothing else): then it is cancelled and the request gets a "
	    "503, outcome unknown for a write (default and at most: "
	    "TASKAPI_REQUEST_TIMEOUT; also the statement_timeout)" },
	[VAR_MAX_REQUESTS] = { "TASKAPI_MAX_REQUESTS", "10000",
	    "requests a worker serves before it is replaced (0: never)" },
	[VAR_SHUTDOWN_TIMEOUT] = { "TASKAPI_SHUTDOWN_TIMEOUT", "10",
	    "seconds SIGTERM waits for requests in flight before SIGKILL" },
	[VAR_LISTEN_BACKLOG] = { "TASKAPI_LISTEN_BACKLOG", "4096",
	    "listen(2) backlog of the sockets taskapi opens itself" },
	[VAR_EV_LISTEN] = { "TASKAPI_EV_LISTEN", NULL,
	    "unix:PATH or HOST:PORT of the event-driven workers' socket "
	    "(nginx keeps FastCGI connections to it); unset: none" },
	[VAR_EV_WORKERS] = { "TASKAPI_EV_WORKERS", NULL,
	    "event-driven worker processes, when TASKAPI_EV_LISTEN is set "
	    "(default: 1 per 2 usable CPUs, rounded up)" },
	[VAR_EV_DB_CONNECTIONS] = { "TASKAPI_EV_DB_CONNECTIONS", "4",
	    "PostgreSQL connections (pipelines) per event-driven worker: "
	    "the first half (two at most) for writes, the others for reads" },
	[VAR_EV_BATCH_READS] = { "TASKAPI_EV_BATCH_READS", "1",
	    "1: an event-driven worker looks up the tasks of the GETs it "
	    "reads in one loop turn with one statement (less PostgreSQL CPU "
	    "a request); 0: one statement each" },
	[VAR_EV_MAX_CONNECTIONS] = { "TASKAPI_EV_MAX_CONNECTIONS", "2048",
	    "FastCGI connections one event-driven worker serves; a request "
	    "on a connection beyond them gets a 503 with Retry-After" },
	[VAR_REQUIRE_IF_MATCH] = { "TASKAPI_REQUIRE_IF_MATCH", "0",
	    "1: PATCH and DELETE of a task without If-Match get 428, so no "
	    "client can overwrite a change it has not seen; 0: If-Match is "
	    "optional" },
};

/* Values read from the env file, indexed like conf_vars. */
struct file_vals {
	char	*v[VAR__MAX];
};

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static void
file_vals_free(struct file_vals *fv)
{
	for (size_t i = 0; i < VAR__MAX; i++) {
		if (fv->v[i] != NULL) {
			sodium_memzero(fv->v[i], strlen(fv->v[i]));
			free(fv->v[i]);
		}
	}
}

/*
 * Reads KEY=VALUE lines: blank lines and '#' comments are skipped, an
 * optional "export " prefix is allowed, and a value may be wrapped in
 * single or double quotes (no escapes).  Unknown keys are errors, so a
 * typo does not go unnoticed.  Returns 0 or -1 with err set.
 */
static int
read_env_file(const char *path, struct file_vals *fv, char *err, size_t errsz)
{
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 lineno = 0, rc = -1;

	if ((f = fopen(path, "re")) == NULL) {
		seterr(err, errsz, "cannot open env file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		char	*k, *v, *eq, *end;
		size_t	 i;

		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		k = line;
		while (*k == ' ' || *k == '\t')
			k++;
		if (*k == '\0' || *k == '#')
			continue;
		if (strncmp(k, "export ", 7) == 0)
			k += 7;
		if ((eq = strchr(k, '=')) == NULL) {
			seterr(err, errsz, "%s:%d: expected KEY=VALUE", path,
			    lineno);
			goto out;
		}
		*eq = '\0';
		for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = '\0';
		v = eq + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		/* cppcheck-suppress knownConditionTrueFalse */
		if (end - v >= 2 && (*v == '"' || *v == '\'') &&
		    end[-1] == *v) {
			end[-1] = '\0';
			v++;
		}
		for (i = 0; i < VAR__MAX; i++)
			if (strcmp(k, conf_vars[i].name) == 0)
				break;
		if (i == VAR__MAX) {
			seterr(err, errsz, "%s:%d: unknown setting %s", path,
			    lineno, k);
			goto out;
		}
		free(fv->v[i]);
		if ((fv->v[i] = strdup(v)) == NULL) {
			seterr(err, errsz, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		seterr(err, errsz, "%s: read error", path);
		goto out;
	}
	rc = 0;
out:
	if (line != NULL) {
		sodium_memzero(line, cap);
		free(line);
	}
	(void)fclose(f);	/* read only: nothing to lose */
	return rc;
}

/* The env file's value, else the environment's, else the default. */
static const char *
lookup(const struct file_vals *fv, enum var v)
{
	const char	*s;

	if (fv->v[v] != NULL)
		return fv->v[v];
	if ((s = getenv(conf_vars[v].name)) != NULL && *s != '\0')
		return s;
	return conf_vars[v].def;
}

static int
get_long(const struct file_vals *fv, enum var v, long min, long max,
    long *out, char *err, size_t errsz)
{
	const char	*s = lookup(fv, v);
	long long	 n;

	if (s == NULL)
		return 0;
	if (!util_parse_int(s, min, max, &n)) {
		seterr(err, errsz, "%s must be an integer in %ld..%ld",
		    conf_vars[v].name, min, max);
		return -1;
	}
	*out = (long)n;
	return 0;
}

static int
get_str(const struct file_vals *fv, enum var v, char **out, char *err,
    size_t errsz)
{
	const char	*s = lookup(fv, v);

	*out = NULL;
	if (s == NULL)
		return 0;
	if ((*out = strdup(s)) == NULL) {
		seterr(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The CPUs this process may run on: its affinity mask (taskset, a
 * container's cpuset), not every CPU the machine has online, so a pool
 * pinned to 2 of 64 cores starts 1 event worker, not 32.  (A cgroup's
 * CPU quota is not a mask: TASKAPI_EV_WORKERS sets the count there.)
 */
static long
usable_cpus(void)
{
	cpu_set_t set;
	long	  n;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (n = CPU_COUNT(&set)) > 0)
		return n;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

int
conf_load(struct conf *c, const char *env_file, char *err, size_t errsz)
{
	struct file_vals	 fv;
	const char		*s;
	long			 ncpu;
	int			 lv;

	memset(c, 0, sizeof(*c));
	memset(&fv, 0, sizeof(fv));
	if (env_file != NULL && read_env_file(env_file, &fv, err, errsz) == -1)
		goto fail;

	if (get_str(&fv, VAR_DATABASE_URL, &c->database_url, err, errsz) ||
	    get_str(&fv, VAR_MIGRATE_DATABASE_URL, &c->migrate_url, err, errsz) ||
	    get_str(&fv, VAR_LISTEN, &c->listen, err, errsz) ||
	    get_str(&fv, VAR_MIGRATIONS_DIR, &c->migrations_dir, err, errsz) ||
	    get_str(&fv, VAR_USER, &c->user, err, errsz) ||
	    get_str(&fv, VAR_PID_FILE, &c->pid_file, err, errsz) ||
	    get_str(&fv, VAR_EV_LISTEN, &c->ev_listen, err, errsz))
		goto fail;

	s = lookup(&fv, VAR_JWT_SECRET);
	if (s == NULL || strlen(s) < 32) {
		seterr(err, errsz, "JWT_SECRET must be set to at least 32 "
		    "bytes (try: openssl rand -hex 32)");
		goto fail;
	}
	c->jwt_secret_len = strlen(s);
	if ((c->jwt_secret = malloc(c->jwt_secret_len + 1)) == NULL) {
		seterr(err, errsz, "out of memory");
		goto fail;
	}
	memcpy(c->jwt_secret, s, c->jwt_secret_len + 1);

	ncpu = usable_cpus();
	c->workers = 2 * ncpu;
	c->jwt_ttl = 3600;
	c->request_timeout = 30;
	c->db_connect_timeout = 2;
	c->spare_workers = 0;
	c->worker_idle_timeout = 10;
	c->max_requests = 10000;
	c->shutdown_timeout = 10;
	c->listen_backlog = 4096;
	/* One event worker per two cores.  Each is one epoll loop, so a
	 * single one would serve the hot routes on one core of a large
	 * host; but a worker costs a quarter to a third of a request's CPU
	 * (nginx and PostgreSQL the rest), and the more requests one loop
	 * turn holds, the fewer statements and syscalls they share: on 2
	 * cores one worker cost 0.74x the CPU of two per /health and
	 * 0.80-0.92x per GET of a task, with a shorter tail
	 * (bench/HISTORY.md).  The connection budget per worker is doubled
	 * to match, 1024 per core as before.  Each worker has its own
	 * ev_db_connections pipelines, so the database connections follow
	 * the cores too (max_connections: OPERATIONS.md). */
	c->ev_workers = (ncpu + 1) / 2 < 64 ? (ncpu + 1) / 2 : 64;
	c->ev_db_connections = 4;
	c->ev_max_connections = 2048;
	c->ev_batch_reads = 1;
	if (get_long(&fv, VAR_JWT_TTL, 60, 31L * 24 * 3600, &c->jwt_ttl, err,
		errsz) ||
	    get_long(&fv, VAR_WORKERS, 1, 256, &c->workers, err, errsz) ||
	    get_long(&fv, VAR_SPARE_WORKERS, 0, 256, &c->spare_workers, err,
		errsz) ||
	    get_long(&fv, VAR_WORKER_IDLE_TIMEOUT, 1, 86400,
		&c->worker_idle_timeout, err, errsz) ||
	    get_long(&fv, VAR_REQUEST_TIMEOUT, 1, 3600, &c->request_timeout,
		err, errsz) ||
	    get_long(&fv, VAR_DB_CONNECT_TIMEOUT, 1, 60, &c->db_connect_timeout,
		err, errsz) ||
	    get_long(&fv, VAR_DB_COMMIT_TIMEOUT, 0, 3600, &c->db_commit_timeout,
		err, errsz) ||
	    get_long(&fv, VAR_MAX_REQUESTS, 0, 1000000000L, &c->max_requests,
		err, errsz) ||
	    get_long(&fv, VAR_SHUTDOWN_TIMEOUT, 1, 3600, &c->shutdown_timeout,
		err, errsz) ||
	    get_long(&fv, VAR_LISTEN_BACKLOG, 16, 65535, &c->listen_backlog,
		err, errsz) ||
	    get_long(&fv, VAR_EV_WORKERS, 0, 64, &c->ev_workers, err, errsz) ||
	    get_long(&fv, VAR_EV_DB_CONNECTIONS, 1, 16, &c->ev_db_connections,
		err, errsz) ||
	    get_long(&fv, VAR_EV_BATCH_READS, 0, 1, &c->ev_batch_reads, err,
		errsz) ||
	    get_long(&fv, VAR_EV_MAX_CONNECTIONS, 16, 65536,
		&c->ev_max_connections, err, errsz) ||
	    get_long(&fv, VAR_REQUIRE_IF_MATCH, 0, 1, &c->require_if_match, err,
		errsz))
		goto fail;
	/* The worker must answer before nginx and the master give up on it
	 * (fastcgi_read_timeout, the stuck-worker kill): both count from
	 * the request timeout. */
	if (c->db_commit_timeout == 0)
		c->db_commit_timeout = c->request_timeout;
	if (c->db_commit_timeout > c->request_timeout) {
		seterr(err, errsz,
		    "TASKAPI_DB_COMMIT_TIMEOUT must not exceed "
		    "TASKAPI_REQUEST_TIMEOUT (%ld)",
		    c->request_timeout);
		goto fail;
	}
	/* FastCGI has no authentication: an empty host would listen on
	 * every interface, so the address must be named (0.0.0.0 or [::]
	 * when that is truly meant). */
	if (c->ev_listen != NULL && strncmp(c->ev_listen, "unix:", 5) != 0 &&
	    (strrchr(c->ev_listen, ':') == NULL || c->ev_listen[0] == ':')) {
		seterr(err, errsz,
		    "TASKAPI_EV_LISTEN must be unix:PATH or "
		    "HOST:PORT with the address named (127.0.0.1:PORT; "
		    "0.0.0.0:PORT only when every interface is meant)");
		goto fail;
	}

	if ((lv = log_level_parse(lookup(&fv, VAR_LOG_LEVEL))) < 0) {
		seterr(err, errsz, "LOG_LEVEL must be debug, info, warn or error");
		goto fail;
	}
	c->log_level = (enum log_level)lv;
	if ((lv = log_format_parse(lookup(&fv, VAR_LOG_FORMAT))) < 0) {
		seterr(err, errsz, "LOG_FORMAT must be json or text");
		goto fail;
	}
	c->log_format = (enum log_format)lv;
	file_vals_free(&fv);
	return 0;
fail:
	file_vals_free(&fv);
	conf_free(c);
	return -1;
}

void
conf_free(struct conf *c)
{
	if (c->jwt_secret != NULL) {
		sodium_memzero(c->jwt_secret, c->jwt_secret_len);
		free(c->jwt_secret);
	}
	free(c->database_url);
	free(c->migrate_url);
	free(c->listen);
	free(c->migrations_dir);
	free(c->user);
	free(c->pid_file);
	free(c->ev_listen);
	memset(c, 0, sizeof(*c));
}

void
conf_usage(void)
{
	printf("Environment (an --env-file's KEY=VALUE lines override it):\n");
	for (size_t i = 0; i < VAR__MAX; i++)
		printf("  %-28s %s%s%s%s\n", conf_vars[i].name, conf_vars[i].doc,
		    conf_vars[i].def != NULL ? " [default: " : "",
		    conf_vars[i].def != NULL ? conf_vars[i].def : "",
		    conf_vars[i].def != NULL ? "]" : "");
}
