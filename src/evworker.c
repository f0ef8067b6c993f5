/*
 * evworker.c: the event-driven worker process for the short,
 * database-bound routes: its set-up and tear-down.
 *
 * One process multiplexes many FastCGI connections (nginx keeps them
 * alive with fastcgi_keep_conn) and runs their statements on
 * TASKAPI_EV_DB_CONNECTIONS PostgreSQL connections in pipeline mode.
 * It is cut in three, each with its design in its header:
 *
 *   ev_loop.c      the epoll loop: accepts, timers, stopping;
 *   ev_conn.c      one FastCGI connection: records in, responses out;
 *   ev_pipeline.c  jobs on the PostgreSQL connections: segments, sync,
 *                  retries, reconnects.
 *
 * The handlers' plan and render halves are the blocking worker's
 * (app.c).  Not here: the export is refused (it streams from the
 * blocking pool), and password routes, which nginx sends to the
 * blocking pool, would block the loop while they hash.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev_conn.h"
#include "ev_loop.h"
#include "evworker.h"
#include "log.h"
#include "worker_signals.h"

static struct ev_server srv;
static struct ev_pq_ops pq_ops;

/*
 * The pipeline's sockets are watched by this process's epoll set.  While
 * a connection opens, libpq may close its socket and open another under
 * the same number (closing dropped it from the set) or under a new one
 * while the set still holds the old: whichever of add and change the
 * caller asks for, the other is tried when the set says no.
 */
static int
pq_watch(struct ev_pgconn *pg, bool add, bool want_write)
{
	uint32_t ev = EPOLLIN | (want_write ? EPOLLOUT : 0);

	if (ev_server_watch(&srv, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, pg->fd,
		ev, &pg->tag) == 0)
		return 0;
	if (errno != (add ? EEXIST : ENOENT))
		return -1;
	return ev_server_watch(&srv, add ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
	    pg->fd, ev, &pg->tag);
}

/* FCGI_WEB_SERVER_ADDRS: the TCP peers allowed, as libfcgi reads it. */
static void
peers_load(void)
{
	const char *env = getenv("FCGI_WEB_SERVER_ADDRS");
	char	   *list, *tok, *save = NULL;

	if (env == NULL || *env == '\0' || (list = strdup(env)) == NULL)
		return;
	for (tok = strtok_r(list, ", \t", &save);
	     tok != NULL && srv.npeers < EV_PEERS_MAX;
	     tok = strtok_r(NULL, ", \t", &save))
		if ((srv.peers[srv.npeers] = strdup(tok)) != NULL)
			srv.npeers++;
	free(list);
}

/* How the batcher reaches the pipeline. */
static void
batch_submit(void *pl, struct ev_job *j)
{
	ev_pipeline_submit(pl, j);
}

/*
 * Descriptors for the connection budget: its FastCGI connections, the
 * database's and a few of its own (listener, epoll, log, cancels).  A
 * service manager's soft limit is often 1024 (systemd's), below one
 * worker's budget, while the hard limit is far above it: the soft limit
 * is raised as far as needed, within the hard one (as nginx's
 * worker_rlimit_nofile).  Short of it, accept pauses on EMFILE
 * (ev_loop.c); the log says so once, here.
 */
static void
fd_limit_raise(const struct conf *c)
{
	struct rlimit rl;
	rlim_t	      had;
	rlim_t	      need =
	    (rlim_t)c->ev_max_connections + (rlim_t)c->ev_db_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= need)
		return;
	had = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = had; /* (the log names the limit in force) */
	if (rl.rlim_cur < need)
		log_warn("open files limited to %llu, below the %llu that "
			 "TASKAPI_EV_MAX_CONNECTIONS (%ld) needs: raise the "
			 "hard limit (LimitNOFILE=, ulimit -Hn)",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
		    c->ev_max_connections);
}

int
evworker_main(const struct conf *c, int lfd, struct sb_slot *slot)
{
	struct sockaddr_storage ss;
	socklen_t		sl = sizeof(ss);
	size_t			writers;
	int			fl, rc;

	memset(&srv, 0, sizeof(srv));
	memset(&ss, 0, sizeof(ss));
	srv.conf = c;
	srv.slot = slot;
	srv.lfd = lfd;
	srv.listen_tag.kind = EV_TAG_LISTEN;
	log_setup(c->log_level, c->log_format, "evworker");
	log_set_buffered(1);
	fd_limit_raise(c);
	if (worker_install_signals() == -1) {
		log_error("signals: %s", strerror(errno));
		return 70;
	}
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		srv.tcp = true;
		peers_load();
	}
	/* The event socket is ours alone (the blocking pool has its own). */
	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (srv.ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    ev_server_watch(&srv, EPOLL_CTL_ADD, lfd, EPOLLIN | EPOLLEXCLUSIVE,
		&srv.listen_tag) == -1) {
		log_error("event worker setup: %s", strerror(errno));
		return 70;
	}
	srv.accepting = true;
	app_init(&srv.app, c);
	pq_ops = ev_pq_libpq;
	pq_ops.watch = pq_watch;
	ev_pipeline_init(&srv.pl, &pq_ops, (size_t)c->ev_db_connections);
	/* Half the connections write, two at most: a second writer commits
	 * a segment while the first waits for its commit's flush, which
	 * brought one event worker's writes level with two workers' of one
	 * writer each (bench/HISTORY.md); more would only split the
	 * segments' group commits. */
	writers = srv.pl.npg / 2;
	ev_pipeline_set_writers(&srv.pl, writers > 2 ? 2 : writers);
	for (size_t i = 0; i < srv.pl.npg; i++) {
		db_init(&srv.pl.pg[i].db, c->database_url,
		    c->db_connect_timeout, c->db_commit_timeout);
		srv.pl.pg[i].db.generic_plans = true;
		srv.pl.pg[i].db.async_dns = true;
	}
	/* The commit wait's bound, as the blocking workers' (db.h). */
	srv.pl.deadline_us = db_deadline_us(&srv.pl.pg[0].db);
	ev_batch_init(&srv.batch, batch_submit, &srv.pl,
	    c->ev_batch_reads != 0);
	ev_pipeline_connect(&srv.pl);
	srv.starting = true; /* (SB_STARTING, set by the master) */

	rc = ev_loop_run(&srv);

	ev_pipeline_free(&srv.pl);
	ev_batch_free(&srv.batch);
	app_free(&srv.app);
	log_flush();
	free(srv.conns);
	ev_slab_release(&srv.conn_mem);
	for (size_t i = 0; i < srv.npeers; i++)
		free(srv.peers[i]);
	close(srv.ep);
	return rc;
}
