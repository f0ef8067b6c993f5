/*
 * ev_loop.c: the event worker's epoll loop: accepts, dispatch of events
 * by tag kind, the once-a-turn completion run, timers, stopping (the
 * design is in ev_loop.h).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counters.h"
#include "ev_conn.h"
#include "ev_loop.h"
#include "log.h"
#include "util.h"
#include "worker_signals.h"

#define EV_MAX_EVENTS 128
/* Beyond the cap, this many more are accepted to be answered 503; past
 * them accepting pauses (the kernel's backlog holds the rest). */
#define EV_REFUSE_EXTRA 64
/* Bytes of connections' buffers freed worth trimming the heap after
 * (sweep). */
#define EV_TRIM_BYTES (256 * 1024)

static void
free_dead(struct ev_server *srv)
{
	while (srv->dead != NULL) {
		struct ev_conn *c = srv->dead->conn;

		srv->dead = srv->dead->dead_next;
		ev_conn_free(c);
	}
}

/* Whether a TCP peer is on the FCGI_WEB_SERVER_ADDRS allow-list (as
 * libfcgi reads it: addresses, comma-separated); always for unix. */
static bool
peer_allowed(const struct ev_server *srv, const struct sockaddr_storage *ss,
    char *addr, size_t sz)
{
	snprintf(addr, sz, "?");
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		(void)inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t)sz);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;
		const char		  *v4 = "::ffff:";

		(void)inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
		    (socklen_t)sz);
		/* An IPv4 peer on a dual-stack socket counts as IPv4. */
		if (strncmp(addr, v4, strlen(v4)) == 0 &&
		    strchr(addr + strlen(v4), '.') != NULL)
			memmove(addr, addr + strlen(v4),
			    strlen(addr + strlen(v4)) + 1);
	} else
		return true;
	if (srv->npeers == 0)
		return true;
	for (size_t i = 0; i < srv->npeers; i++)
		if (strcmp(srv->peers[i], addr) == 0)
			return true;
	return false;
}

static void
accept_pause(struct ev_server *srv, int64_t us)
{
	if (srv->accepting) {
		(void)epoll_ctl(srv->ep, EPOLL_CTL_DEL, srv->lfd, NULL);
		srv->accepting = false;
	}
	srv->accept_resume_us = util_mono_us() + us;
}

/*
 * Whether a new connection is one too many: this worker holds its cap
 * (TASKAPI_EV_MAX_CONNECTIONS) and the event workers together hold as
 * many as all their caps.  The cap is a budget of the pool, not of one
 * worker: the workers share one listening socket, and the kernel hands
 * a new connection to whichever is awake, so one of them often holds
 * more than its share (a burst of connects drains into the first to
 * wake).  It refuses only when the pool is full, not when it alone is.
 */
static bool
over_cap(const struct ev_server *srv)
{
	size_t cap = (size_t)srv->conf->ev_max_connections;
	size_t workers, conns;

	if (srv->nconns < cap)
		return false;
	if (scoreboard == NULL)
		return true;
	scoreboard_ev_conns(scoreboard, &workers, &conns);
	return workers <= 1 || conns >= cap * workers;
}

static void
accept_all(struct ev_server *srv)
{

	while (srv->accepting) {
		struct sockaddr_storage ss;
		socklen_t		sl = sizeof(ss);
		struct ev_conn	       *c;
		char			addr[INET6_ADDRSTRLEN + 8];
		bool			refused;
		int			fd;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(srv->lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a
				 * second instead of spinning (slowcgi). */
				log_warn("accept: %s; pausing accepts for 1 s",
				    strerror(errno));
				accept_pause(srv, 1000000);
			} else if (errno != EAGAIN)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (srv->tcp && !peer_allowed(srv, &ss, addr, sizeof(addr))) {
			log_warn("FastCGI connection from %s refused: not in "
				 "FCGI_WEB_SERVER_ADDRS",
			    addr);
			close(fd);
			continue;
		}
		refused = over_cap(srv);
		if (refused) {
			int64_t now = util_mono_us();

			if (now - srv->refused_log_us > 1000000) {
				log_warn(
				    "%zu FastCGI connections here, and the "
				    "event workers hold their cap "
				    "(TASKAPI_EV_MAX_CONNECTIONS each); "
				    "answering 503 on new ones",
				    srv->nconns);
				srv->refused_log_us = now;
			}
		}
		if ((c = ev_conn_new(srv, fd, refused)) == NULL) {
			close(fd);
			continue;
		}
		if (ev_server_add(srv, ev_conn_link(c)) == -1) {
			close(fd);
			ev_conn_free(c);
			continue;
		}
		if (refused && ++srv->nrefused >= EV_REFUSE_EXTRA)
			accept_pause(srv, 1000000);
	}
}

static void
listen_resume(struct ev_server *srv, int64_t now)
{
	if (srv->accepting || srv->stopping || now < srv->accept_resume_us ||
	    srv->nrefused >= EV_REFUSE_EXTRA)
		return;
	if (ev_server_watch(srv, EPOLL_CTL_ADD, srv->lfd,
		EPOLLIN | EPOLLEXCLUSIVE, &srv->listen_tag) == 0)
		srv->accepting = true;
}

/* Once a second: timeouts, idle buffers, resuming accepts. */
static void
sweep(struct ev_server *srv, int64_t now)
{
	bool busy = ev_pipeline_pending(&srv->pl) > 0;

	for (size_t i = 0; i < srv->nconns;) {
		struct ev_conn *c = srv->conns[i]->conn;

		if (ev_conn_sweep(c, now))
			continue; /* the last entry moved into i */
		ev_conn_trim(c, now);
		i++;
	}
	/*
	 * After a burst: hand the freed heap back to the kernel, once the
	 * buffers of the connections closed or gone idle since the last
	 * trim add up to EV_TRIM_BYTES (a few hundred connections' are
	 * megabytes), and whenever every connection is gone.  Counting
	 * bytes, not connections, covers a front end that keeps a burst's
	 * connections open, idle, for good: their count never falls, but
	 * their buffers are freed after 2 s idle (ev_conn_trim).
	 * malloc_trim gives back free pages inside the heap too, not only
	 * at its top; the connections' structs are not on the heap
	 * (ev_slab.h), so little of it stays pinned between them.
	 */
	if ((!busy && srv->nconns == 0) || srv->trim_freed >= EV_TRIM_BYTES) {
		(void)malloc_trim(0);
		srv->trim_freed = 0;
	}
	listen_resume(srv, now);
}

static void
stop_start(struct ev_server *srv)
{
	srv->stopping = true;
	srv->stop_deadline_us =
	    util_mono_us() + srv->conf->shutdown_timeout * 1000000LL;
	if (srv->accepting)
		(void)epoll_ctl(srv->ep, EPOLL_CTL_DEL, srv->lfd, NULL);
	srv->accepting = false;
	atomic_store(&srv->slot->state, SB_STOPPING);
	log_info("stopping: %zu FastCGI connections to drain", srv->nconns);
}

static void
handle_event(struct ev_server *srv, const struct epoll_event *e)
{
	struct ev_tag *tag = e->data.ptr;

	switch (tag->kind) {
	case EV_TAG_LISTEN:
		if (!srv->stopping)
			accept_all(srv);
		break;
	case EV_TAG_PG:
		ev_pipeline_event((struct ev_pgconn *)(void *)tag,
		    (e->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0,
		    (e->events & EPOLLOUT) != 0);
		break;
	case EV_TAG_CONN:
		ev_conn_event((struct ev_conn *)(void *)tag, e->events);
		break;
	}
}

int
ev_loop_run(struct ev_server *srv)
{
	struct epoll_event events[EV_MAX_EVENTS];
	int64_t		   last_sweep = 0;

	for (;;) {
		int	n;
		int64_t now, turn_start;
		size_t	pending;

		if (worker_stop && !srv->stopping)
			stop_start(srv);
		if (srv->stopping) {
			if (srv->nconns == 0 &&
			    ev_pipeline_pending(&srv->pl) == 0)
				break;
			if (util_mono_us() > srv->stop_deadline_us) {
				log_warn("stopping: %zu connections still open "
					 "after %ld s; closing them",
				    srv->nconns, srv->conf->shutdown_timeout);
				break;
			}
		}
		/* With statements in flight, wake often enough to hold their
		 * deadline (ev_pipeline_expire) to a quarter second. */
		n = epoll_wait(srv->ep, events, EV_MAX_EVENTS,
		    srv->stopping ?
			100 :
			(ev_pipeline_pending(&srv->pl) > 0 ? 250 : 1000));
		if (n == -1 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		turn_start = n > 0 ? util_mono_us() : 0;
		for (int i = 0; i < n; i++) {
			/* A connection closed earlier in this batch is off
			 * the epoll set, but its event may be in this array:
			 * its struct lives until free_dead() below. */
			handle_event(srv, &events[i]);
		}
		ev_pipeline_expire(&srv->pl, util_mono_us());
		/* Answers, then one sync per connection for what they and
		 * this turn's events submitted.  A turn's end can complete
		 * jobs (no database): their answers go out now too. */
		do {
			(void)ev_pipeline_run_completions(&srv->pl);
			ev_batch_flush(&srv->batch);
			ev_pipeline_turn_end(&srv->pl);
		} while (srv->pl.done.head != NULL);
		free_dead(srv);
		pending = ev_pipeline_pending(&srv->pl);
		if (srv->starting && ev_pipeline_opening(&srv->pl) == 0)
			srv->starting = false;
		atomic_store(&srv->slot->state,
		    srv->starting ?
			SB_STARTING :
			(pending > 0 ?
				SB_BUSY :
				(srv->stopping ? SB_STOPPING : SB_IDLE)));
		atomic_store(&srv->slot->inflight, (int)pending);
		now = util_mono_us();
		if (now - last_sweep >= 1000000 || srv->stopping) {
			sweep(srv, now);
			last_sweep = now;
			free_dead(srv);
		}
		log_flush();
		/* A long turn delays every connection of this worker: the
		 * metrics show how long the turns with events took, the log
		 * write included. */
		if (turn_start != 0)
			metrics_ev_segment(MET_EV_LOOP,
			    util_mono_us() - turn_start);
	}
	while (srv->nconns > 0)
		ev_conn_close(srv->conns[0]->conn);
	free_dead(srv);
	return 0;
}
