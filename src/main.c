/*
 * main.c: taskapi's entry point.
 *
 *   taskapi [options] [serve]    run the FastCGI pool (the default)
 *   taskapi [options] migrate    apply pending SQL migrations
 *   taskapi [options] check      validate the configuration and exit
 *   taskapi [options] plans      print the event worker's query plans
 *
 * Start-up order (OpenBSD's slowcgi): fds 0-2 sane, configuration,
 * socket, pid file, privileges dropped, schema checked, then the pool.
 *
 * The sockets, first found first: those of a master handing over to
 * this binary (upgrade.c), those a service manager passes (socket
 * activation, listen_fds.c), then --listen or TASKAPI_LISTEN, then fd 0
 * (spawn-fcgi).  TASKAPI_EV_LISTEN is opened when no socket was passed
 * for the event workers.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "conf.h"
#include "db.h"
#include "fcgi_conn.h"
#include "listen_fds.h"
#include "log.h"
#include "migrate.h"
#include "password.h"
#include "supervisor.h"
#include "upgrade.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: taskapi [--env-file PATH] [--listen ADDR] [serve|migrate|check|plans]\n"
	    "       taskapi --help | --version\n"
	    "\n"
	    "Commands:\n"
	    "  serve      run the FastCGI worker pool (default)\n"
	    "  migrate    apply pending SQL migrations, then exit\n"
	    "  check      validate the configuration, then exit\n"
	    "  plans      print each statement's plan as the event worker's\n"
	    "             sessions make it (generic, index paths only)\n"
	    "\n"
	    "Options:\n"
	    "  --env-file PATH  read KEY=VALUE settings (re-read on SIGHUP)\n"
	    "  --listen ADDR    unix:/path/to.sock or HOST:PORT; without it the\n"
	    "                   socket is fd 0 (spawn-fcgi)\n"
	    "\n"
	    "Sockets passed by a service manager (LISTEN_FDS, named taskapi-pool\n"
	    "and taskapi-ev in LISTEN_FDNAMES) are served instead of opening any.\n"
	    "\n"
	    "Signals: TERM/INT stop after requests in flight; HUP re-reads the\n"
	    "configuration and replaces the workers one at a time.\n\n");
	if (f == stdout)
		conf_usage();
}

/* Makes sure fds 0-2 exist, so no later socket or file lands there. */
static void
sane_fds(void)
{
	struct stat	 st;

	for (int fd = 0; fd <= 2; fd++)
		if (fstat(fd, &st) == -1 && errno == EBADF) {
			int n = open("/dev/null", O_RDWR);
			if (n != fd && n >= 0)
				close(n);
		}
}

static bool
fd_is_socket(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Opens the listening socket named by addr; returns the fd or -1. */
static int
open_listener(const char *addr, int backlog)
{
	int	 fd = -1;

	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un	 sun;
		const char		*path = addr + 5;
		struct stat		 st;
		mode_t			 old;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sun.sun_path) || *path == '\0') {
			log_error("socket path too long or empty: %s", path);
			return -1;
		}
		memcpy(sun.sun_path, path, strlen(path) + 1);
		/* A stale socket from a previous run is replaced. */
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			goto fail;
		old = umask(0117);	/* srw-rw---- */
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			umask(old);
			goto fail;
		}
		umask(old);
	} else {
		struct addrinfo	 hints, *res = NULL;
		char		 host[256];
		const char	*colon = strrchr(addr, ':');
		int		 one = 1, gai;

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
			log_error("listen address must be unix:PATH or "
			    "HOST:PORT: %s", addr);
			return -1;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		/*
		 * FastCGI has no authentication: an address left out must
		 * not mean every interface.  Listening everywhere is spelt
		 * out (0.0.0.0 or [::]).
		 */
		if (host[0] == '\0' || strcmp(host, "*") == 0) {
			log_error(
			    "listen address %s names no host: give the "
			    "address to listen on (127.0.0.1:PORT), or "
			    "0.0.0.0:PORT or [::]:PORT for every interface on "
			    "purpose (and set FCGI_WEB_SERVER_ADDRS)",
			    addr);
			return -1;
		}
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host) - 2);
			host[strlen(host) - 2] = '\0';
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		if ((gai = getaddrinfo(host[0] != '\0' ? host : NULL, colon + 1,
		    &hints, &res)) != 0) {
			log_error("%s: %s", addr, gai_strerror(gai));
			return -1;
		}
		fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 ||
		    bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
			freeaddrinfo(res);
			goto fail;
		}
		freeaddrinfo(res);
		if (getenv("FCGI_WEB_SERVER_ADDRS") == NULL)
			log_warn(
			    "listening on %s without FCGI_WEB_SERVER_ADDRS: "
			    "any peer that reaches it is served",
			    addr);
	}
	if (listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	log_error("cannot listen on %s: %s", addr, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/*
 * Hands a unix socket taskapi made to the user it is switching to.  As
 * root, on a path in a directory others may write to: what is there now
 * must still be the socket bind(2) made (ours), and a link put in its
 * place is not followed (AT_SYMLINK_NOFOLLOW changes the link itself).
 */
static int
chown_socket(const char *addr, const struct passwd *pw)
{
	const char *path;
	struct stat st;

	if (addr == NULL || strncmp(addr, "unix:", 5) != 0)
		return 0;
	path = addr + 5;
	if (lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid()) {
		log_error("socket %s was replaced after it was made; not "
			  "changing its owner",
		    path);
		return -1;
	}
	if (fchownat(AT_FDCWD, path, pw->pw_uid, pw->pw_gid,
		AT_SYMLINK_NOFOLLOW) == -1) {
		log_error("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* As root: switch to user for good (and hand it the unix sockets). */
static int
drop_privileges(const char *user, const char *listen, const char *ev_listen)
{
	struct passwd	*pw;

	if (getuid() != 0 && geteuid() != 0)
		return 0;
	if (user == NULL || (pw = getpwnam(user)) == NULL) {
		log_error("started as root, but TASKAPI_USER '%s' does not "
		    "exist: create it or start taskapi as another user",
		    user != NULL ? user : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		log_error("refusing to serve as root: set TASKAPI_USER to an "
		    "unprivileged user");
		return -1;
	}
	if (chown_socket(listen, pw) == -1 || chown_socket(ev_listen, pw) == -1)
		return -1;
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_error("dropping privileges to %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		log_error("could regain root after dropping privileges");
		return -1;
	}
	log_info("running as %s", user);
	return 0;
}

/*
 * Written beside and renamed into place: a master that took over from
 * another (upgrade.c) replaces that one's file, which may belong to root.
 * Written as root before privileges are dropped, so no link is followed:
 * the new file is created exclusively with O_NOFOLLOW (a stale one left
 * by a crash is unlinked first; unlink never follows a link), and
 * rename(2) replaces whatever is at the path, a link included, without
 * following it.
 */
static int
write_pid_file(const char *path)
{
	char	    buf[32];
	char	    tmp[4096];
	struct stat st;
	int	    fd, n;

	if (path == NULL)
		return 0;
	/*
	 * Something other than a plain file with one name at the path (a
	 * link planted there, a hard link to another file) is refused: the
	 * rename would not follow it, but a start that quietly replaces it
	 * would hide the tampering.
	 */
	if (lstat(path, &st) == 0 &&
	    (!S_ISREG(st.st_mode) || st.st_nlink != 1)) {
		log_error("pid file %s: not a plain file with one name "
			  "(a symbolic or hard link?); refused",
		    path);
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp)) {
		log_error("pid file %s: path too long", path);
		return -1;
	}
	if (unlink(tmp) == -1 && errno != ENOENT) {
		log_error("pid file %s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		log_error("pid file %s: %s", tmp, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		log_error("pid file %s: %s", tmp, strerror(errno));
		(void)close(fd);
		(void)unlink(tmp);
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		log_error("pid file %s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* Removes the pid file if it still names this process (not a successor). */
static void
remove_pid_file(const char *path)
{
	FILE *f;
	char  line[32];
	long  pid = 0;

	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fgets(line, sizeof(line), f) != NULL)
		pid = strtol(line, NULL, 10);
	(void)fclose(f);
	if (pid == (long)getpid() && unlink(path) == -1 && errno != ENOENT)
		log_warn("pid file %s: %s", path, strerror(errno));
}

/*
 * Refuses to serve an older schema than this binary needs.  An
 * unreachable database is not fatal: the workers answer 503 until it
 * comes, and check the schema again on every connect.
 */
static int
check_schema(const struct conf *c)
{
	PGconn	*pg;
	int	 version;

	if ((pg = db_connect_once(c->database_url, c->db_connect_timeout)) ==
	    NULL) {
		log_warn("database unreachable at start; workers will retry");
		return 0;
	}
	if (db_schema_version(pg, &version) == -1) {
		PQfinish(pg);
		return -1;
	}
	PQfinish(pg);
	if (version < DB_SCHEMA_VERSION) {
		log_error("database schema is version %d, this taskapi needs %d: "
		    "run 'taskapi migrate' first", version, DB_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

/*
 * The sockets a service manager passes (socket activation), checked
 * against the configured addresses.  *fd and *ev_fd are left -1 for
 * those not passed.  Returns -1 (logged) when the start must stop.
 */
static int
take_passed_sockets(struct conf *c, int *fd, int *ev_fd)
{
	struct listen_fds lf;
	char		  err[512];
	int		  n, m;

	n = listen_fds_take(getpid(), LISTEN_FDS_START, &lf, err, sizeof(err));
	if (n == -1) {
		log_error("socket activation: %s", err);
		return -1;
	}
	if (n == 0)
		return 0;
	if (lf.pool != -1 &&
	    (m = listen_fds_matches(lf.pool, c->listen, err, sizeof(err))) !=
		1) {
		if (m == -1) {
			log_error("socket activation: %s (TASKAPI_LISTEN)",
			    err);
			return -1;
		}
		log_warn("socket activation: %s (TASKAPI_LISTEN): serving the "
			 "socket passed",
		    err);
	}
	if (lf.ev != -1 && (c->ev_workers <= 0)) {
		/*
		 * The manager keeps it open: nginx's connections to it will
		 * wait there unanswered.  Said loudly, not fatal: the blocking
		 * pool still serves.
		 */
		log_error("socket activation: %s passed, but "
			  "TASKAPI_EV_WORKERS is 0: no worker accepts on it",
		    LISTEN_FDS_NAME_EV);
		close(lf.ev);
		lf.ev = -1;
	}
	if (lf.ev != -1 &&
	    (m = listen_fds_matches(lf.ev, c->ev_listen, err, sizeof(err))) !=
		1) {
		if (m == -1) {
			log_error("socket activation: %s (TASKAPI_EV_LISTEN)",
			    err);
			return -1;
		}
		log_warn("socket activation: %s (TASKAPI_EV_LISTEN): serving "
			 "the socket passed",
		    err);
	}
	*fd = lf.pool;
	*ev_fd = lf.ev;
	/* The manager watches this master: no successor behind its back. */
	upgrade_forbid("its sockets come from the service manager");
	log_info("socket activation: serving the sockets passed in (%s%s%s)",
	    lf.pool != -1 ? LISTEN_FDS_NAME_POOL : "",
	    lf.pool != -1 && lf.ev != -1 ? ", " : "",
	    lf.ev != -1 ? LISTEN_FDS_NAME_EV : "");
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*env_file = NULL, *listen_arg = NULL, *cmd = "serve";
	struct conf	*c;
	char		 err[256], pid_path[4096] = "";
	int		 fd = -1, ev_fd = -1, rc, inherited;
	/* Sockets this process did not make: their owner is left alone. */
	int		 passed_fd, passed_ev_fd;
	pid_t		 upgrade_from = 0;

	sane_fds();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("taskapi %s\n", PACKAGE_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--env-file") == 0 && i + 1 < argc) {
			env_file = argv[++i];
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_arg = argv[++i];
		} else if (strcmp(argv[i], "serve") == 0 ||
		    strcmp(argv[i], "migrate") == 0 ||
		    strcmp(argv[i], "check") == 0 ||
		    strcmp(argv[i], "plans") == 0) {
			cmd = argv[i];
		} else {
			fprintf(stderr, "taskapi: unknown argument: %s\n",
			    argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "taskapi: libsodium failed to initialise\n");
		return 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fprintf(stderr, "taskapi: out of memory\n");
		return 1;
	}
	if (conf_load(c, env_file, err, sizeof(err)) == -1) {
		fprintf(stderr, "taskapi: configuration: %s\n", err);
		free(c);
		return 2;
	}
	if (listen_arg != NULL) {
		free(c->listen);
		if ((c->listen = strdup(listen_arg)) == NULL) {
			fprintf(stderr, "taskapi: out of memory\n");
			return 1;
		}
	}
	log_setup(c->log_level, c->log_format, "master");

	if (strcmp(cmd, "check") == 0) {
		printf("configuration OK\n");
		conf_free(c);
		free(c);
		return 0;
	}
	if (strcmp(cmd, "plans") == 0) {
		struct db db;

		db_init(&db, c->database_url, c->db_connect_timeout,
		    c->request_timeout);
		db.generic_plans = true;
		rc = db_explain(&db, stdout) == 0 ? 0 : 1;
		db_close(&db);
		conf_free(c);
		free(c);
		return rc;
	}
	if (strcmp(cmd, "migrate") == 0) {
		rc = migrate_run(c);
		conf_free(c);
		free(c);
		return rc;
	}

	upgrade_note_binary();
	/* Started by a running master for an upgrade: its sockets. */
	if ((inherited = upgrade_inherited(&fd, &ev_fd, &upgrade_from)) == -1)
		return 1;
	if (inherited == 0 && take_passed_sockets(c, &fd, &ev_fd) == -1)
		return 1;
	passed_fd = fd;
	passed_ev_fd = ev_fd;
	if (inherited == 1) {
		if (ev_fd != -1 &&
		    (c->ev_listen == NULL || c->ev_workers <= 0)) {
			close(ev_fd);
			ev_fd = -1;
		}
		log_info("took over the listening sockets of master %ld",
		    (long)upgrade_from);
	} else if (fd != -1) {
		/* Passed by the service manager (above). */
	} else if (c->listen != NULL) {
		if ((fd = open_listener(c->listen, (int)c->listen_backlog)) == -1)
			return 1;
	} else if (fd_is_socket(0)) {
		fd = 0;		/* spawn-fcgi's FCGI_LISTENSOCK_FILENO */
	} else {
		log_error("no listen address and fd 0 is not a socket: run "
		    "under spawn-fcgi or pass --listen unix:PATH|HOST:PORT");
		return 2;
	}
	if (c->ev_listen != NULL && c->ev_workers > 0 && ev_fd == -1) {
		if ((ev_fd = open_listener(c->ev_listen,
		    (int)c->listen_backlog)) == -1)
			return 1;
	}
	/* A bad allow-list stops the start, not each worker. */
	if (fcgi_conn_init() == -1)
		return 1;
	if (write_pid_file(c->pid_file) == -1 ||
	    drop_privileges(c->user, passed_fd == -1 ? c->listen : NULL,
		passed_ev_fd == -1 ? c->ev_listen : NULL) == -1 ||
	    check_schema(c) == -1)
		return 1;
	/* Give back what start-up used (a schema check). */
	(void)malloc_trim(0);
	/* Kept: a reload may replace c, not where the pid file is. */
	if (c->pid_file != NULL)
		snprintf(pid_path, sizeof(pid_path), "%s", c->pid_file);
	rc = supervisor_run(c, env_file, fd, ev_fd, argv, upgrade_from);
	if (pid_path[0] != '\0')
		remove_pid_file(pid_path);
	return rc;
}
