/*
 * ev_tag.h: what an epoll event of the event worker is about.  Every
 * watched object starts with a struct ev_tag, and epoll's data.ptr
 * points at it: the loop switches on the kind, never on addresses.
 */
#ifndef TASKAPI_EV_TAG_H
#define TASKAPI_EV_TAG_H

enum ev_tag_kind {
	EV_TAG_LISTEN = 1, /* the listening socket */
	EV_TAG_CONN,	   /* a FastCGI connection (ev_conn.h) */
	EV_TAG_PG	   /* a PostgreSQL connection (ev_pipeline.h) */
};

struct ev_tag {
	enum ev_tag_kind kind;
};

#endif /* TASKAPI_EV_TAG_H */
