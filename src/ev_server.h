/*
 * ev_server.h: the event worker's state (struct ev_server) and what a
 * connection asks of it: its epoll set, the connections counted and
 * swept, and the connections to free after the loop turn.
 *
 * Apart from the loop (ev_loop.c) so that the connections (ev_conn.c)
 * and the loop that drives them do not depend on each other: the server
 * holds each connection by a struct ev_link embedded in it, and never
 * calls into ev_conn.c.
 */
#ifndef TASKAPI_EV_SERVER_H
#define TASKAPI_EV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "conf.h"
#include "ev_batch.h"
#include "ev_pipeline.h"
#include "ev_slab.h"
#include "ev_tag.h"
#include "scoreboard.h"

#define EV_PEERS_MAX 16 /* FCGI_WEB_SERVER_ADDRS entries */

struct ev_conn;

/* The server's hold on one connection, embedded in it. */
struct ev_link {
	struct ev_conn *conn;	   /* the connection it is in */
	size_t		slot;	   /* its index in srv->conns */
	struct ev_link *dead_next; /* on srv->dead, once retired */
};

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
	/* Until its first connections to the database have opened (or
	 * failed), the worker shows as starting: a reload waits for it. */
	bool		   starting;
	int64_t		   stop_deadline_us;
	struct app	   app; /* plans and renders */
	struct ev_pipeline pl;
	struct ev_batcher  batch; /* a turn's task lookups, then pl */
	struct ev_link	 **conns;
	size_t		   nconns, conns_cap;
	struct ev_slabs	   conn_mem;  /* the struct ev_conns (ev_slab.h) */
	size_t		   nrefused;  /* open ones answered 503 (the cap) */
	size_t		   trim_freed; /* buffer bytes freed since the last
					  heap trim (ev_loop.c's sweep) */
	struct ev_link	  *dead;      /* closed, freed after the turn */
	int64_t		   refused_log_us;
	char		  *peers[EV_PEERS_MAX]; /* allowed TCP peers */
	size_t		   npeers;
};

/* epoll_ctl on the server's set; op EPOLL_CTL_ADD, _MOD or _DEL. */
int
ev_server_watch(struct ev_server *, int op, int fd, uint32_t events,
    struct ev_tag *tag);

/* Counts a new connection in (swept once a second); 0, or -1 (ENOMEM). */
int
ev_server_add(struct ev_server *, struct ev_link *);

/* Takes a connection out of those counted and swept (its fd is closed). */
void
ev_server_forget(struct ev_server *, struct ev_link *);

/* Queues a connection to be freed at the end of this loop turn (callers
 * may still hold it). */
void
ev_server_retire(struct ev_server *, struct ev_link *);

#endif /* TASKAPI_EV_SERVER_H */
