/*
 * ev_server.c: the event worker's bookkeeping of its connections and
 * its epoll set (ev_server.h).
 */
#include "config.h"

#include <sys/epoll.h>

#include <stdlib.h>
#include <string.h>

#include "ev_server.h"

int
ev_server_watch(struct ev_server *srv, int op, int fd, uint32_t events,
    struct ev_tag *tag)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.ptr = tag;
	return epoll_ctl(srv->ep, op, fd, &e);
}

int
ev_server_add(struct ev_server *srv, struct ev_link *l)
{
	if (srv->nconns == srv->conns_cap) {
		size_t cap = srv->conns_cap == 0 ? 64 : srv->conns_cap * 2;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct ev_link **n = realloc(srv->conns, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		srv->conns = n;
		srv->conns_cap = cap;
	}
	l->slot = srv->nconns;
	srv->conns[srv->nconns++] = l;
	if (srv->slot != NULL)
		atomic_store_explicit(&srv->slot->conns, (int)srv->nconns,
		    memory_order_relaxed);
	return 0;
}

void
ev_server_forget(struct ev_server *srv, struct ev_link *l)
{
	struct ev_link *last = srv->conns[--srv->nconns];

	srv->conns[l->slot] = last;
	last->slot = l->slot;
	if (srv->slot != NULL)
		atomic_store_explicit(&srv->slot->conns, (int)srv->nconns,
		    memory_order_relaxed);
}

void
ev_server_retire(struct ev_server *srv, struct ev_link *l)
{
	l->dead_next = srv->dead;
	srv->dead = l;
}
