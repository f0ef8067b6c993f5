/*
 * ev_loop.h: the event worker's process: one epoll loop over the
 * listening socket, the FastCGI connections (ev_conn.h) and the
 * PostgreSQL connections (ev_pipeline.h).
 *
 * Design.  Every watched object starts with a struct ev_tag (ev_tag.h)
 * and the loop dispatches on its kind.  One loop turn:
 *
 *   1. epoll_wait, then each event: accept (the listener), read and
 *      write (a FastCGI connection: it parses records and submits jobs),
 *      read and flush (a PostgreSQL connection: segments end, their jobs
 *      are queued as completed);
 *   2. the completed jobs' callbacks run (each answers its request and
 *      may take the next one buffered on its connection), then the
 *      pipeline syncs and flushes what this turn submitted; again while
 *      that completed more (a database out of reach);
 *   3. connections closed in this turn are freed, the log is flushed,
 *      the scoreboard updated; once a second, timers: request-read and
 *      idle timeouts, resuming accepts.
 *
 * Nothing calls back up this list, so no function recurses.
 *
 * Stopping (SIGTERM, a reload): accepts stop at once (the replacement
 * takes the socket), every connection is served on, and each is closed
 * only when idle between requests: right after an answer is fully
 * written, before a byte of a new request has come (the end of the
 * stream then reaches nginx with the answer, and nginx checks for it
 * before it caches the connection for reuse), or after a second with no
 * request at all.  Closing a connection the moment the stop begins
 * would race with nginx picking it for a request it cannot retry (a
 * POST).  The loop ends when none is left, or after
 * TASKAPI_SHUTDOWN_TIMEOUT.
 */
#ifndef TASKAPI_EV_LOOP_H
#define TASKAPI_EV_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "conf.h"
#include "ev_pipeline.h"
#include "ev_tag.h"
#include "scoreboard.h"

#define EV_PEERS_MAX 16 /* FCGI_WEB_SERVER_ADDRS entries */

struct ev_conn;

struct ev_server {
	const struct conf *conf;
	struct sb_slot	  *slot;
	int		   ep;
	struct ev_tag	   listen_tag; /* EV_TAG_LISTEN */
	int		   lfd;
	bool		   tcp; /* lfd is AF_INET/AF_INET6 */
	bool		   accepting;
	int64_t		   accept_resume_us;
	bool		   stopping;
	int64_t		   stop_deadline_us;
	struct app	   app; /* plans and renders */
	struct ev_pipeline pl;
	struct ev_conn	 **conns;
	size_t		   nconns, conns_cap;
	struct ev_conn	  *dead; /* closed, freed after the turn */
	int64_t		   refused_log_us;
	char		  *peers[EV_PEERS_MAX]; /* allowed TCP peers */
	size_t		   npeers;
};

/* epoll_ctl on the server's set; op EPOLL_CTL_ADD, _MOD or _DEL. */
int
ev_server_watch(struct ev_server *, int op, int fd, uint32_t events,
    struct ev_tag *tag);

/* Takes c out of the connections counted and swept (its fd is closed). */
void
ev_server_forget(struct ev_server *, struct ev_conn *);

/* Frees c at the end of this loop turn (callers may still hold it). */
void
ev_server_retire(struct ev_server *, struct ev_conn *);

/*
 * Runs the loop on srv (set up by evworker_main) until stopped and
 * drained.  Returns the exit code.
 */
int
ev_loop_run(struct ev_server *);

#endif /* TASKAPI_EV_LOOP_H */
