/*
 * evworker.c: the event-driven worker for the short, database-bound
 * routes.
 *
 * One process multiplexes many FastCGI connections (nginx keeps them
 * alive with fastcgi_keep_conn) with epoll, and runs the planned
 * statements of all of them on its libpq connections in pipeline mode
 * (TASKAPI_EV_DB_CONNECTIONS; writes on the first, reads on the others):
 * every statement read in one loop turn is sent, then one
 * PQpipelineSync, so under load many queries share a write and their
 * results come back together, as tokio-postgres batches.  The handlers'
 * plan and render halves are the same as the blocking worker's.
 *
 * Ownership: a connection (struct evconn) owns its buffers and its one
 * request.  While its statement is in the pipeline it may not be freed:
 * a connection closed then is only marked, and freed when its result
 * comes back (redis' freeClientAsync).
 *
 * Not here: password hashing routes work but block the loop while they
 * hash (nginx routes them to the blocking pool), and the export is
 * refused (it streams from the blocking pool).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "api_limits.h"
#include "app.h"
#include "evworker.h"
#include "fcgi_proto.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "util.h"
#include "worker.h"

#define EV_MAX_EVENTS	128
#define EV_MAX_CONNS	8192
#define EV_PARAMS_MAX	(64 * 1024)	/* bytes of FastCGI params */
#define EV_IN_MAX	(FCGI_HEADER_LEN + FCGI_MAX_CONTENT + 255 + 4096)
#define EV_IDLE_US	(300LL * 1000000)	/* idle kept connection */
#define EV_BUF_KEEP	(64 * 1024)	/* larger buffers are given back */
#define EV_TRIM_US	(2LL * 1000000)	/* idle this long: drop buffers */

enum pstate {
	PS_NONE = 0,
	PS_RESULT,	/* waiting for the statement's result */
	PS_NULL,	/* got it; waiting for the NULL that ends it */
	PS_DONE,	/* ended; waiting for its segment's sync (commit) */
	PS_WAITING,	/* planned; waiting for a pipeline to take it */
	PS_FOLLOW	/* a health check answered with another's ping */
};

struct evconn {
	int		 fd;		/* -1 once closed */
	bool		 active;	/* between BEGIN_REQUEST and the answer */
	bool		 dispatched;	/* the request is being served */
	bool		 aborted;	/* ABORT_REQUEST: answer, no body */
	bool		 keep_conn;
	bool		 params_done;
	bool		 want_write;	/* EPOLLOUT armed */
	bool		 retried;	/* re-sent once after a pipeline abort */
	bool		 failed;	/* its own statement failed (c->err) */
	bool		 parsing;	/* inside conn_parse: don't re-enter */
	uint16_t	 id;

	uint8_t		*in;
	size_t		 in_len, in_cap;
	uint8_t		*out;
	size_t		 out_len, out_off, out_cap;
	uint8_t		*params;
	size_t		 params_len, params_cap;
	char		*strs;		/* NUL-terminated copies of params */
	size_t		 strs_cap;

	struct req	 req;
	struct resp	 resp;
	struct plan	 plan;
	enum pstate	 pstate;
	PGresult	*res;
	enum terr	 err;
	int64_t		 last_us;	/* monotonic, last I/O */
	size_t		 slot;		/* index in ev.conns */
	struct evconn	*dead_next;	/* on ev.dead, freed after the turn */
	struct evconn	*seg_next;	/* in a segment being ended */
	struct evconn	*wait_next;	/* on ev.wait, or a follower list */
	struct evconn	*followers;	/* health checks sharing this ping */
};

/* A pipeline entry: a connection's statement, or a sync point (NULL). */
struct qitem {
	struct evconn	*c;
};

#define EV_PG_MAX	16

/*
 * One PostgreSQL connection in pipeline mode and the FIFO of what it
 * owes answers for.  Several of them let commits overlap, so PostgreSQL
 * flushes their WAL together (one connection commits one at a time).
 *
 * The statements between two syncs are one segment, and PostgreSQL runs
 * a segment as one implicit transaction: it commits at the sync, and
 * when one of its statements fails, the ones before it are rolled back
 * and the ones after it skipped.  So no statement is answered when its
 * own result arrives, only when its segment's sync does: the first
 * q_done entries of the queue have their results and wait for it.
 */
struct evpg {
	struct db	 db;
	int		 fd;		/* registered with epoll, or -1 */
	bool		 want_write;
	bool		 unsynced;	/* statements sent since the last sync */
	bool		 seg_failed;	/* a statement of this segment failed */
	struct qitem	*q;		/* ring */
	size_t		 q_head, q_len, q_cap;
	size_t		 q_done; /* entries with results, before the sync */
};

static struct {
	const struct conf	*conf;
	struct sb_slot		*slot;
	int			 ep;
	int			 lfd;
	bool			 accepting;
	int64_t			 accept_resume_us;
	struct app		 app;		/* plans and renders */
	struct evpg		 pg[EV_PG_MAX];	/* the pipelines */
	size_t			 npg;
	size_t			 inflight;	/* statements in all pipelines */
	struct evconn		**conns;
	size_t			 nconns, conns_cap;
	struct evconn		*dead;		/* closed, to free after the turn */
	struct waitq { /* planned, for a free pipeline */
		struct evconn  *head;
		struct evconn **tail;
	} wait[2];		 /* [0] writes, [1] reads */
	size_t	       nwaiting; /* on ev.wait or following */
	struct evconn *ping;	 /* a ping sent in this turn */
} ev;

/* epoll tag of the listening socket; pipelines are tagged by &ev.pg[i]. */
static char	tag_listen;

static bool
is_pg_tag(const void *tag)
{
	return (const char *)tag >= (const char *)ev.pg &&
	    (const char *)tag < (const char *)(ev.pg + EV_PG_MAX);
}

static void	conn_close(struct evconn *);
static void	conn_parse(struct evconn *);
static void	conn_flush(struct evconn *);
static void	request_done(struct evconn *);
static void
wait_drain(void);
static void
respond(struct evconn *);

/* --- the pipeline queue ---------------------------------------------- */

static int
q_push(struct evpg *pg, struct evconn *c)
{
	if (pg->q_len == pg->q_cap) {
		size_t		 cap = pg->q_cap == 0 ? 64 : pg->q_cap * 2;
		struct qitem	*nq = malloc(cap * sizeof(*nq));

		if (nq == NULL)
			return -1;
		for (size_t i = 0; i < pg->q_len; i++)
			nq[i] = pg->q[(pg->q_head + i) % pg->q_cap];
		free(pg->q);
		pg->q = nq;
		pg->q_cap = cap;
		pg->q_head = 0;
	}
	pg->q[(pg->q_head + pg->q_len) % pg->q_cap].c = c;
	pg->q_len++;
	if (c != NULL)
		ev.inflight++;
	return 0;
}

/* The oldest entry, done or not. */
static struct qitem *
q_front(struct evpg *pg)
{
	return pg->q_len > 0 ? &pg->q[pg->q_head] : NULL;
}

/* The entry whose result comes next. */
static struct qitem *
q_next(struct evpg *pg)
{
	return pg->q_done < pg->q_len ?
	    &pg->q[(pg->q_head + pg->q_done) % pg->q_cap] :
	    NULL;
}

static void
q_pop(struct evpg *pg)
{
	if (pg->q[pg->q_head].c != NULL)
		ev.inflight--;
	pg->q_head = (pg->q_head + 1) % pg->q_cap;
	pg->q_len--;
}

/* --- connection registry ---------------------------------------------- */

/*
 * misc-no-recursion (clang-tidy) flags two cycles, both bounded:
 *   respond -> conn_flush -> conn_parse -> handle_record -> respond:
 *     conn_flush() does not call conn_parse() while c->parsing is set,
 *     so the cycle is never entered twice;
 *   pg_broken -> respond -> ... -> dispatch -> pg_send -> pg_broken:
 *     each round drops one database connection, which db_ready() will
 *     not reconnect for 250 ms, so it ends after at most EV_PG_MAX rounds.
 */

static int
conns_add(struct evconn *c)
{
	if (ev.nconns == ev.conns_cap) {
		size_t		 cap = ev.conns_cap == 0 ? 64 : ev.conns_cap * 2;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct evconn	**n = realloc(ev.conns, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		ev.conns = n;
		ev.conns_cap = cap;
	}
	c->slot = ev.nconns;
	ev.conns[ev.nconns++] = c;
	return 0;
}

static void
conns_remove(struct evconn *c)
{
	struct evconn	*last = ev.conns[--ev.nconns];

	ev.conns[c->slot] = last;
	last->slot = c->slot;
}

static void
conn_free(struct evconn *c)
{
	if (c->res != NULL)
		PQclear(c->res);
	req_free(&c->req);
	resp_free(&c->resp);
	plan_free(&c->plan);
	free(c->in);
	free(c->out);
	free(c->params);
	free(c->strs);
	free(c);
}

/*
 * Closes the fd now.  The struct is freed at the end of the loop turn
 * (callers up the stack may still hold it), and not before its
 * statement has left the pipeline: the result handler retires it then.
 */
static void
conn_close(struct evconn *c)
{
	if (c->fd == -1)
		return;
	close(c->fd);	/* also takes it out of the epoll set */
	c->fd = -1;
	conns_remove(c);
	if (c->pstate == PS_NONE) {
		c->dead_next = ev.dead;
		ev.dead = c;
	}
}

/* A closed connection whose statement came back: free it after the turn. */
static void
conn_retire(struct evconn *c)
{
	c->dead_next = ev.dead;
	ev.dead = c;
}

static void
free_dead(void)
{
	while (ev.dead != NULL) {
		struct evconn *c = ev.dead;
		ev.dead = c->dead_next;
		conn_free(c);
	}
}

/* epoll_ctl with the event mask and tag; op is EPOLL_CTL_ADD or _MOD. */
static int
ep_ctl(int op, int fd, uint32_t events, void *tag)
{
	struct epoll_event	 e;

	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.ptr = tag;
	return epoll_ctl(ev.ep, op, fd, &e);
}

#define ep_add(fd, events, tag)	ep_ctl(EPOLL_CTL_ADD, (fd), (events), (tag))
#define ep_mod(fd, events, tag)	ep_ctl(EPOLL_CTL_MOD, (fd), (events), (tag))

/* Grows *buf to hold need bytes (never past max); returns 0 or -1. */
static int
buf_reserve(uint8_t **buf, size_t *cap, size_t need, size_t max)
{
	size_t	 n = *cap == 0 ? 1024 : *cap;
	uint8_t	*p;

	if (need <= *cap)
		return 0;
	if (need > max)
		return -1;
	while (n < need)
		n *= 2;
	if (n > max)
		n = max;
	if ((p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

/* --- output ----------------------------------------------------------- */

static int
out_reserve(struct evconn *c, size_t n)
{
	return buf_reserve(&c->out, &c->out_cap, c->out_len + n, SIZE_MAX / 2);
}

/* Queues a management or END_REQUEST record without a request. */
static void
out_end_request(struct evconn *c, uint16_t id, uint8_t status)
{
	if (out_reserve(c, 16) == -1) {
		conn_close(c);
		return;
	}
	c->out_len += fcgi_end_request(c->out + c->out_len, id, 0, status);
}

/*
 * Health checks read in one loop turn share one ping (SELECT 1): the
 * first is sent, the others follow it and get a copy of its answer.
 * Each answer still comes from a ping sent after its request arrived,
 * and a flood of health checks costs the database one statement a turn.
 */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
followers_respond(struct evconn *c)
{
	struct evconn *f;

	while ((f = c->followers) != NULL) {
		c->followers = f->wait_next;
		f->wait_next = NULL;
		f->pstate = PS_NONE;
		ev.nwaiting--;
		if (f->fd == -1) {
			conn_retire(f);
			continue;
		}
		resp_raw(&f->resp, c->resp.status, c->resp.content_type,
		    c->resp.body, c->resp.len);
		f->resp.retry_after = c->resp.retry_after;
		respond(f);
	}
}

/* A leader whose own client is gone: render its answer for its followers. */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
followers_orphaned(struct evconn *c, const PGresult *res, enum terr e)
{
	if (c->followers == NULL)
		return;
	app_finish(&ev.app, &c->req, res, e, &c->resp);
	followers_respond(c);
}

/*
 * Writes the response of the connection's request: the CGI head and
 * body as STDOUT records, the empty STDOUT and END_REQUEST, then logs
 * it and clears the request.
 */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
respond(struct evconn *c)
{
	char		 head[1024];
	size_t		 hlen, need;
	struct resp	*r = &c->resp;

	if (c == ev.ping)
		ev.ping = NULL;
	followers_respond(c);
	hlen = resp_head(r, c->req.request_id, c->req.traceresponse, head,
	    sizeof(head));
	if (c->aborted) {	/* nginx gave up on it: end it, no content */
		hlen = 0;
		r->len = 0;
	}
	need = fcgi_stream_size(hlen) + fcgi_stream_size(r->len) +
	    FCGI_HEADER_LEN + 16;
	if (out_reserve(c, need) == -1) {
		log_error("out of memory for a response");
		conn_close(c);
		return;
	}
	c->out_len += fcgi_stream(c->out + c->out_len, FCGI_T_STDOUT, c->id,
	    head, hlen);
	c->out_len += fcgi_stream(c->out + c->out_len, FCGI_T_STDOUT, c->id,
	    r->body, r->len);
	c->out_len += fcgi_header(c->out + c->out_len, FCGI_T_STDOUT, c->id, 0,
	    0);
	c->out_len += fcgi_end_request(c->out + c->out_len, c->id, 0,
	    FCGI_PS_REQUEST_COMPLETE);

	app_account(&c->req, c->req.method_str, r->status);
	atomic_fetch_add(&ev.slot->requests, 1);
	request_done(c);
	conn_flush(c);
}

/* Clears the request; the connection may carry the next one. */
static void
request_done(struct evconn *c)
{
	req_reset(&c->req);
	resp_reset(&c->resp);
	plan_reset(&c->plan);
	c->active = c->dispatched = c->aborted = c->params_done = false;
	c->retried = false;
	c->params_len = 0;
	c->err = TERR_OK;
	if (c->params_cap > EV_BUF_KEEP) {
		free(c->params);
		c->params = NULL;
		c->params_cap = 0;
	}
}

static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
conn_flush(struct evconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off,
		    c->out_len - c->out_off);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN)) {
			if (!c->want_write && ep_mod(c->fd, EPOLLIN | EPOLLOUT,
			    c) == 0)
				c->want_write = true;
			return;
		}
		conn_close(c);
		return;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > EV_BUF_KEEP) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (c->want_write) {
		(void)ep_mod(c->fd, EPOLLIN, c);
		c->want_write = false;
	}
	if (!c->active && (!c->keep_conn || worker_stop)) {
		conn_close(c);
		return;
	}
	/* nginx may already have sent the next request (conn_parse's own
	 * loop goes on by itself when the answer came from inside it). */
	if (!c->active && c->in_len > 0 && !c->parsing)
		conn_parse(c);
}

/* --- the database pipeline ------------------------------------------- */

/* Answers as the handler does without a database (health: "degraded"). */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
respond_db_down(struct evconn *c)
{
	app_finish(&ev.app, &c->req, NULL, TERR_DB, &c->resp);
	respond(c);
}

/* Fails every statement in pg's pipeline and drops its connection. */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_broken(struct evpg *pg)
{
	struct qitem	*it;

	log_warn("database connection lost; %zu entries in its pipeline fail",
	    pg->q_len);
	db_close(&pg->db);	/* closing the fd drops it from epoll */
	pg->fd = -1;
	pg->want_write = pg->unsynced = pg->seg_failed = false;
	/* Nothing was committed after the last sync that came back, so
	 * every entry left fails, those with results too. */
	pg->q_done = 0;
	while ((it = q_front(pg)) != NULL) {
		struct evconn *c = it->c;

		q_pop(pg);
		if (c == NULL)
			continue;
		c->pstate = PS_NONE;
		if (c->res != NULL) {
			PQclear(c->res);
			c->res = NULL;
		}
		if (c->fd == -1) {
			followers_orphaned(c, NULL, TERR_DB);
			conn_retire(c);
			continue;
		}
		respond_db_down(c);
	}
	/* The waiting go to another pipeline, or fail if none is left. */
	wait_drain();
}

/* pg connected in pipeline mode and registered with epoll; or TERR_DB. */
static enum terr
pg_ready(struct evpg *pg)
{
	PGconn	*conn;

	if (pg->db.conn != NULL)
		return TERR_OK;
	if (db_ready(&pg->db) != TERR_OK)
		return TERR_DB;
	conn = pg->db.conn;
	if (PQenterPipelineMode(conn) != 1 || PQsetnonblocking(conn, 1) != 0) {
		log_error("cannot enter pipeline mode: %s", PQerrorMessage(conn));
		db_close(&pg->db);
		return TERR_DB;
	}
	pg->fd = PQsocket(conn);
	if (ep_add(pg->fd, EPOLLIN, pg) == -1) {
		log_error("epoll_ctl: %s", strerror(errno));
		db_close(&pg->db);
		pg->fd = -1;
		return TERR_DB;
	}
	return TERR_OK;
}

/*
 * The pipeline for the next statement: the connected one with the
 * shortest queue; when none is connected, the first that connects.
 */
static void
pg_range(const struct evconn *, size_t *, size_t *);

static struct evpg *
pg_pick(const struct evconn *c)
{
	struct evpg	*best = NULL;
	size_t		 lo, hi;

	pg_range(c, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (ev.pg[i].db.conn != NULL &&
		    (best == NULL || ev.pg[i].q_len < best->q_len))
			best = &ev.pg[i];
	if (best != NULL)
		return best;
	for (size_t i = lo; i < hi; i++)
		if (pg_ready(&ev.pg[i]) == TERR_OK)
			return &ev.pg[i];
	return NULL;
}

/*
 * Which pipelines a statement may use.  With two or more, all writes go
 * to the first and reads to the others: one writer means no two
 * segments that lock rows ever run side by side, so they cannot
 * deadlock each other, and reads never wait behind a commit.
 */
static bool
is_write(const struct evconn *c)
{
	return !db_stmt_readonly(c->plan.stmt);
}

static void
pg_range(const struct evconn *c, size_t *lo, size_t *hi)
{
	if (ev.npg < 2) {
		*lo = 0;
		*hi = ev.npg;
	} else if (is_write(c)) {
		*lo = 0;
		*hi = 1;
	} else {
		*lo = 1;
		*hi = ev.npg;
	}
}

/*
 * Batching (group commit): each pipeline has at most one segment in
 * PostgreSQL at a time, and a statement planned meanwhile waits in
 * ev.wait.  A segment commits once, so with one fsync per commit the
 * statements that arrive while one commits share the next one instead
 * of each paying for its own (bench/RESULTS.md).  A statement goes into
 * the open segment of this loop turn, or to an idle pipeline; the
 * pipeline with the fewest statements first, so a turn's reads spread
 * over the idle connections.  NULL: none takes it now.
 */
#define EV_SEGMENT_MAX 256 /* statements in one segment */

static struct evpg *
pg_pick_batch(const struct evconn *c)
{
	struct evpg *best = NULL;
	size_t	     lo, hi;

	pg_range(c, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		struct evpg *pg = &ev.pg[i];

		if (pg->db.conn == NULL || !(pg->q_len == 0 || pg->unsynced) ||
		    pg->q_len >= EV_SEGMENT_MAX)
			continue;
		if (best == NULL || pg->q_len < best->q_len)
			best = pg;
	}
	return best;
}

static bool
pg_any_connected(const struct evconn *c)
{
	size_t lo, hi;

	pg_range(c, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (ev.pg[i].db.conn != NULL)
			return true;
	return false;
}

static void
wait_push(struct evconn *c)
{
	struct waitq *q = &ev.wait[is_write(c) ? 0 : 1];

	c->pstate = PS_WAITING;
	c->wait_next = NULL;
	if (q->head == NULL)
		q->tail = &q->head;
	*q->tail = c;
	q->tail = &c->wait_next;
	ev.nwaiting++;
}

static void
pg_send(struct evconn *, bool);

/* Sends waiting statements while a pipeline takes them. */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
wait_drain(void)
{
	for (int k = 0; k < 2; k++) {
		struct waitq  *q = &ev.wait[k];
		struct evconn *c;

		while ((c = q->head) != NULL) {
			if (pg_pick_batch(c) == NULL && pg_any_connected(c))
				break; /* all busy: the next segment end */
			q->head = c->wait_next;
			c->wait_next = NULL;
			ev.nwaiting--;
			c->pstate = PS_NONE;
			if (c->fd == -1) {
				conn_retire(c);
				continue;
			}
			pg_send(c, false);
		}
	}
}

/* Ends pg's open segment with a sync; returns 0, or -1 (pg broken). */
static int
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_sync(struct evpg *pg)
{
	if (!pg->unsynced)
		return 0;
	if (PQpipelineSync(pg->db.conn) != 1 || q_push(pg, NULL) == -1) {
		log_error("pipeline sync: %s", PQerrorMessage(pg->db.conn));
		pg_broken(pg);
		return -1;
	}
	pg->unsynced = false;
	return 0;
}

/*
 * Sends the connection's planned statement into a pipeline.  It joins
 * the segment of this loop turn, or, alone, gets a segment of its own,
 * so no other statement's failure can undo it.
 */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_send(struct evconn *c, bool alone)
{
	struct evpg *pg = NULL;

	if (!alone && c->plan.stmt == STMT_PING && ev.ping != NULL &&
	    ev.ping->pstate == PS_RESULT && ev.ping->plan.stmt == STMT_PING) {
		c->pstate = PS_FOLLOW;
		c->wait_next = ev.ping->followers;
		ev.ping->followers = c;
		ev.nwaiting++;
		return;
	}
	if (!alone && (pg = pg_pick_batch(c)) == NULL && pg_any_connected(c)) {
		wait_push(c);
		return;
	}
	if (pg == NULL && (pg = pg_pick(c)) == NULL) {
		/* The handler decides (health renders "degraded"). */
		respond_db_down(c);
		return;
	}
	if (alone && pg_sync(pg) == -1) {
		respond_db_down(c);
		return;
	}
	if (PQsendQueryPrepared(pg->db.conn, db_stmt_name(c->plan.stmt),
	    c->plan.nparams, c->plan.values, NULL, NULL, 0) != 1) {
		log_error("sending a statement: %s",
		    PQerrorMessage(pg->db.conn));
		respond_db_down(c);
		pg_broken(pg);
		return;
	}
	if (q_push(pg, c) == -1) {
		/* The statement is out; without a queue entry we cannot match
		 * its result, so this pipeline is unusable. */
		resp_error(&c->resp, TERR_NOMEM, NULL);
		respond(c);
		pg_broken(pg);
		return;
	}
	c->pstate = PS_RESULT;
	c->failed = false;
	pg->unsynced = true;
	if (alone)
		(void)pg_sync(pg);
	else if (c->plan.stmt == STMT_PING)
		ev.ping = c;
}

/* End of a loop turn: one sync per pipeline for what it was sent, flush. */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_sync_and_flush(void)
{
	wait_drain();
	ev.ping = NULL; /* the next turn's health checks ping again */
	for (size_t i = 0; i < ev.npg; i++) {
		struct evpg	*pg = &ev.pg[i];
		int		 rc;

		if (pg->db.conn == NULL || pg_sync(pg) == -1)
			continue;
		rc = PQflush(pg->db.conn);
		if (rc == -1) {
			pg_broken(pg);
			continue;
		}
		if ((rc == 1) != pg->want_write) {
			pg->want_write = rc == 1;
			(void)ep_mod(pg->fd, EPOLLIN | (rc == 1 ? EPOLLOUT : 0),
			    pg);
		}
	}
}

/* A statement's segment has ended: render its answer and send it. */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_complete(struct evconn *c)
{
	app_finish(&ev.app, &c->req, c->res, c->err, &c->resp);
	if (c->res != NULL) {
		PQclear(c->res);
		c->res = NULL;
	}
	respond(c);
}

/*
 * The sync of pg's oldest segment came back.  When no statement of it
 * failed, it has committed: answer them all.  When one failed, that one
 * gets its own error; the others were rolled back or skipped, and go
 * again, each in a segment of its own (once: alone, only a statement's
 * own failure can fail it).  The segment is taken off the queue before
 * anything is answered: an answer can send new statements, or break
 * this pipeline.
 */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_segment_end(struct evpg *pg)
{
	struct evconn *head = NULL, **tail = &head, *c;
	bool	       failed = pg->seg_failed;

	for (size_t n = pg->q_done; n > 0; n--) {
		struct qitem *it = q_front(pg);

		if (it == NULL) /* q_done never exceeds q_len */
			break;
		c = it->c;
		q_pop(pg);
		c->pstate = PS_NONE;
		c->seg_next = NULL;
		*tail = c;
		tail = &c->seg_next;
	}
	q_pop(pg); /* the sync point */
	pg->q_done = 0;
	pg->seg_failed = false;

	while ((c = head) != NULL) {
		head = c->seg_next;
		c->seg_next = NULL;
		if (c->fd == -1) {
			if (!failed || c->failed)
				followers_orphaned(c, c->res, c->err);
			else
				followers_orphaned(c, NULL, TERR_DB);
			if (c->res != NULL) {
				PQclear(c->res);
				c->res = NULL;
			}
			conn_retire(c);
		} else if (!failed || c->failed) {
			pg_complete(c);
		} else if (!c->retried) {
			if (c->res != NULL) {
				PQclear(c->res);
				c->res = NULL;
			}
			c->retried = true;
			c->err = TERR_OK;
			pg_send(c, true);
		} else {
			c->err = TERR_DB;
			pg_complete(c);
		}
	}
	wait_drain();
}

static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
pg_read(struct evpg *pg)
{
	struct qitem	*it;

	if (pg->db.conn == NULL)
		return;
	if (PQconsumeInput(pg->db.conn) != 1 ||
	    PQstatus(pg->db.conn) != CONNECTION_OK) {
		pg_broken(pg);
		return;
	}
	while ((it = q_next(pg)) != NULL && pg->db.conn != NULL &&
	    !PQisBusy(pg->db.conn)) {
		PGresult	*res = PQgetResult(pg->db.conn);
		struct evconn	*c = it->c;

		if (c == NULL) {
			/* A sync point: PGRES_PIPELINE_SYNC, nothing else. */
			if (res == NULL ||
			    PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
				log_error("pipeline out of step at a sync point");
				PQclear(res);
				pg_broken(pg);
				return;
			}
			PQclear(res);
			pg_segment_end(pg);
			continue;
		}
		if (c->pstate == PS_RESULT) {
			ExecStatusType st;

			if (res == NULL) {
				log_error("pipeline out of step: no result");
				pg_broken(pg);
				return;
			}
			st = PQresultStatus(res);
			if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
				c->res = res;
			} else if (st == PGRES_PIPELINE_ABORTED) {
				/* Skipped after another's failure. */
				pg->seg_failed = true;
				PQclear(res);
			} else {
				const char *state =
				    PQresultErrorField(res, PG_DIAG_SQLSTATE);
				/* A deadlock victim or a serialization failure
				 * (class 40) did nothing wrong: it goes again
				 * alone with the rest of its segment. */
				bool again = state != NULL &&
				    strncmp(state, "40", 2) == 0 && !c->retried;

				/* Its log line belongs to the request. */
				log_set_request(c->req.request_id,
				    c->req.trace_id);
				c->err = db_result_error(&pg->db, res);
				log_set_request(NULL, NULL);
				PQclear(res);
				if (pg->db.conn == NULL) {
					/* db_result_error dropped it: nothing
					 * of this segment committed. */
					pg->fd = -1;
					pg_broken(pg);
					return;
				}
				if (c->err == TERR_INTERNAL)
					c->err = TERR_DB;
				c->failed = !again;
				if (again)
					c->err = TERR_OK;
				pg->seg_failed = true;
			}
			c->pstate = PS_NULL;
			continue;
		}
		/* PS_NULL: the NULL that ends this statement's results. */
		if (res != NULL) {
			log_error("pipeline out of step: extra result");
			PQclear(res);
			pg_broken(pg);
			return;
		}
		c->pstate = PS_DONE;
		pg->q_done++;
	}
}

/* --- input ------------------------------------------------------------ */

/*
 * Copies the params this service reads into c->strs (NUL-terminated)
 * and points the request at them.  Returns 0, or -1 on malformed pairs.
 */
static int
params_decode(struct evconn *c)
{
#define WANTED(s)                \
	{                        \
		s, sizeof(s) - 1 \
	}
	static const struct {
		const char *name;
		size_t	    len;
	} wanted[] = { WANTED("REQUEST_METHOD"), WANTED("REQUEST_URI"),
		WANTED("CONTENT_TYPE"), WANTED("CONTENT_LENGTH"),
		WANTED("HTTP_AUTHORIZATION"), WANTED("HTTP_TRACEPARENT"),
		WANTED("HTTP_X_REQUEST_ID") };
#undef WANTED
	const char	*vals[7] = { NULL };
	const uint8_t	*p = c->params, *name, *val;
	size_t		 left = c->params_len, nlen, vlen, off = 0;
	int		 rc;
	struct req	*r = &c->req;

	if (c->strs_cap < c->params_len + 8) {
		char *s = realloc(c->strs, c->params_len + 8);
		if (s == NULL)
			return -1;
		c->strs = s;
		c->strs_cap = c->params_len + 8;
	}
	while ((rc = fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen)) ==
	    1) {
		for (size_t i = 0; i < 7; i++) {
			if (wanted[i].len != nlen ||
			    memcmp(wanted[i].name, name, nlen) != 0)
				continue;
			/* A NUL inside a value would cut it: refuse it. */
			if (memchr(val, '\0', vlen) != NULL)
				return -1;
			memcpy(c->strs + off, val, vlen);
			c->strs[off + vlen] = '\0';
			vals[i] = c->strs + off;
			off += vlen + 1;
		}
	}
	if (rc == -1)
		return -1;

	r->start_us = util_mono_us();
	r->match.route = ROUTE__MAX;
	r->method_str = vals[0] != NULL ? vals[0] : "-";
	r->method = req_method_parse(vals[0]);
	r->uri = vals[1] != NULL ? vals[1] : "/";
	r->content_type = vals[2] != NULL && *vals[2] != '\0' ? vals[2] : NULL;
	if (vals[3] != NULL && *vals[3] != '\0') {
		long long n;
		if (!util_parse_int(vals[3], 0, INT64_MAX, &n) ||
		    n > LIM_BODY_MAX)
			r->body_too_large = true;
	}
	r->authorization = vals[4];
	r->traceparent = vals[5];
	req_set_request_id(r, vals[6]);
	req_set_trace(r, vals[5]);
	return 0;
}

/* The whole request is in: plan it, and answer or queue its statement. */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
dispatch(struct evconn *c)
{
	c->dispatched = true;
	if (c->req.body != NULL)
		c->req.body[c->req.body_len] = '\0';
	log_set_request(c->req.request_id, c->req.trace_id);
	if (!app_begin(&ev.app, &c->req, &c->resp, &c->plan)) {
		log_set_request(NULL, NULL);
		respond(c);
		return;
	}
	log_set_request(NULL, NULL);
	if (handlers[c->req.match.handler].flags & HF_STREAM) {
		log_error("%s reached the event worker; route it to the "
		    "blocking pool in nginx", router_pattern(c->req.match.route));
		resp_error_status(&c->resp, 500,
		    "this route is not served here");
		respond(c);
		return;
	}
	pg_send(c, false);
}

static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
handle_record(struct evconn *c, const struct fcgi_record *rec)
{
	if (rec->id == 0) {
		/* Management records: say we don't multiplex, know nothing else. */
		uint8_t	 buf[FCGI_HEADER_LEN + 8];
		if (rec->type == FCGI_T_GET_VALUES) {
			if (out_reserve(c, FCGI_HEADER_LEN) == 0)
				c->out_len += fcgi_header(c->out + c->out_len,
				    FCGI_T_GET_VALUES_RESULT, 0, 0, 0);
		} else if (out_reserve(c, sizeof(buf)) == 0) {
			c->out_len += fcgi_header(c->out + c->out_len,
			    FCGI_T_UNKNOWN_TYPE, 0, 8, 0);
			memset(c->out + c->out_len, 0, 8);
			c->out[c->out_len] = rec->type;
			c->out_len += 8;
		}
		return;
	}
	switch (rec->type) {
	case FCGI_T_BEGIN_REQUEST:
		if (rec->len < 8) {
			conn_close(c);
			return;
		}
		if (c->active) {
			/* One request at a time per connection. */
			out_end_request(c, rec->id, FCGI_PS_CANT_MPX_CONN);
			return;
		}
		if (((rec->content[0] << 8) | rec->content[1]) !=
		    FCGI_ROLE_RESPONDER) {
			out_end_request(c, rec->id, FCGI_PS_UNKNOWN_ROLE);
			return;
		}
		c->active = true;
		c->id = rec->id;
		c->keep_conn = (rec->content[2] & FCGI_FLAG_KEEP_CONN) != 0;
		c->params_len = 0;
		return;
	case FCGI_T_ABORT_REQUEST:
		if (c->active && rec->id == c->id) {
			c->aborted = true;
			if (!c->dispatched) {
				c->resp.status = 499;
				respond(c);
			}
		}
		return;
	case FCGI_T_PARAMS:
		if (!c->active || rec->id != c->id || c->params_done)
			return;
		if (rec->len == 0) {
			c->params_done = true;
			if (params_decode(c) == -1) {
				log_warn("malformed FastCGI params; closing");
				conn_close(c);
			}
			return;
		}
		if (buf_reserve(&c->params, &c->params_cap,
		    c->params_len + rec->len, EV_PARAMS_MAX) == -1) {
			log_warn("FastCGI params over %d bytes; closing",
			    EV_PARAMS_MAX);
			conn_close(c);
			return;
		}
		memcpy(c->params + c->params_len, rec->content, rec->len);
		c->params_len += rec->len;
		return;
	case FCGI_T_STDIN:
		if (!c->active || rec->id != c->id || c->dispatched)
			return;
		if (rec->len == 0) {
			if (!c->params_done) {
				conn_close(c);
				return;
			}
			dispatch(c);
			return;
		}
		if (c->req.body_too_large ||
		    c->req.body_len + rec->len > LIM_BODY_MAX) {
			c->req.body_too_large = true;
			return;
		}
		{
			char *dst = req_body_reserve(&c->req, rec->len);
			if (dst == NULL) {
				conn_close(c);
				return;
			}
			memcpy(dst, rec->content, rec->len);
			c->req.body_len += rec->len;
		}
		return;
	default:
		return;		/* DATA and stray records are ignored */
	}
}

/*
 * Handles every whole record in the input, until a request is taken.
 * An answer made right away (a 404, a 401) may let the loop go on to
 * the next request; conn_flush() never re-enters it.
 */
static void
/* NOLINTNEXTLINE(misc-no-recursion): bounded, see conns_add() */
conn_parse(struct evconn *c)
{
	size_t	 off = 0;

	c->parsing = true;
	while (c->fd != -1 && !c->dispatched) {
		struct fcgi_record	 rec;
		long			 n;

		n = fcgi_record_next(c->in + off, c->in_len - off, &rec);
		if (n == 0)
			break;
		if (n < 0) {
			log_warn("not FastCGI on the event socket; closing");
			c->parsing = false;
			conn_close(c);
			return;
		}
		off += (size_t)n;
		handle_record(c, &rec);
	}
	c->parsing = false;
	if (c->fd == -1)
		return;
	if (off > 0) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (c->in_len == 0 && c->in_cap > EV_BUF_KEEP) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	if (c->out_len > c->out_off && c->fd != -1)
		conn_flush(c);
}

static void
conn_read(struct evconn *c)
{
	for (;;) {
		ssize_t	 n;

		if (buf_reserve(&c->in, &c->in_cap, c->in_len + 2048,
		    EV_IN_MAX) == -1) {
			/* A request is being served and nginx keeps sending:
			 * let the socket buffer hold it until we answer. */
			if (c->dispatched)
				return;
			conn_close(c);
			return;
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += (size_t)n;
			c->last_us = util_mono_us();
			if (c->in_len < c->in_cap)
				break;
			continue;
		}
		if (n == 0) {
			conn_close(c);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			break;
		conn_close(c);
		return;
	}
	if (!c->dispatched)
		conn_parse(c);
}

static void
accept_all(void)
{
	for (;;) {
		struct evconn	*c;
		int		 fd;

		fd = accept4(ev.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting for a
				 * second instead of spinning (slowcgi). */
				log_warn("accept: %s; pausing accepts for 1 s",
				    strerror(errno));
				(void)epoll_ctl(ev.ep, EPOLL_CTL_DEL, ev.lfd, NULL);
				ev.accepting = false;
				ev.accept_resume_us = util_mono_us() + 1000000;
			} else if (errno != EAGAIN)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (ev.nconns >= EV_MAX_CONNS ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_us = util_mono_us();
		if (conns_add(c) == -1 || ep_add(fd, EPOLLIN, c) == -1) {
			close(fd);
			free(c);
			continue;
		}
	}
}

/*
 * An idle kept connection gives its buffers back: nginx may keep
 * hundreds open, and most sit idle once a burst is over.
 */
static void
conn_trim(struct evconn *c)
{
	if (c->in_cap == 0 && c->out_cap == 0 && c->params_cap == 0)
		return;
	free(c->in);
	free(c->out);
	free(c->params);
	free(c->strs);
	c->in = c->out = c->params = NULL;
	c->strs = NULL;
	c->in_cap = c->out_cap = c->params_cap = c->strs_cap = 0;
	c->out_off = 0;
	req_free(&c->req);
	resp_free(&c->resp);
	plan_free(&c->plan);
}

/* Once a second: drop stale connections, resume accepting. */
static void
sweep(int64_t now)
{
	int64_t	 req_limit = ev.conf->request_timeout * 1000000LL;

	bool busy = ev.inflight + ev.nwaiting > 0, trimmed = false;

	for (size_t i = 0; i < ev.nconns;) {
		struct evconn *c = ev.conns[i];
		bool stale = c->active ? (!c->dispatched &&
		    now - c->last_us > req_limit) :
		    (now - c->last_us > EV_IDLE_US ||
		    (worker_stop && c->out_len == 0));
		if (stale && c->pstate == PS_NONE) {
			conn_close(c);	/* moves the last entry into i */
			continue;
		}
		if (!c->active && c->in_len == 0 && c->out_len == 0 &&
		    now - c->last_us > EV_TRIM_US && (c->in_cap > 0 ||
		    c->out_cap > 0)) {
			conn_trim(c);
			trimmed = true;
		}
		busy = busy || c->active;
		i++;
	}
	/* After a burst: hand the freed heap back to the kernel. */
	if (trimmed && !busy)
		(void)malloc_trim(0);
	if (!ev.accepting && !worker_stop && now >= ev.accept_resume_us &&
	    ep_add(ev.lfd, EPOLLIN | EPOLLEXCLUSIVE, &tag_listen) == 0)
		ev.accepting = true;
}

int
evworker_main(const struct conf *c, int lfd, struct sb_slot *slot)
{
	struct epoll_event	 events[EV_MAX_EVENTS];
	int64_t			 last_sweep = 0;
	int			 fl;

	memset(&ev, 0, sizeof(ev));
	ev.conf = c;
	ev.slot = slot;
	ev.lfd = lfd;
	log_setup(c->log_level, c->log_format, "evworker");
	log_set_buffered(1);
	if (worker_install_signals() == -1) {
		log_error("signals: %s", strerror(errno));
		return 70;
	}
	/* The event socket is ours alone (the blocking pool has its own). */
	if ((fl = fcntl(lfd, F_GETFL)) == -1 ||
	    fcntl(lfd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (ev.ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    ep_add(lfd, EPOLLIN | EPOLLEXCLUSIVE, &tag_listen) == -1) {
		log_error("event worker setup: %s", strerror(errno));
		return 70;
	}
	ev.accepting = true;
	app_init(&ev.app, c);
	ev.npg = (size_t)c->ev_db_connections;
	if (ev.npg < 1 || ev.npg > EV_PG_MAX)
		ev.npg = 1;
	for (size_t i = 0; i < ev.npg; i++) {
		db_init(&ev.pg[i].db, c->database_url, c->db_connect_timeout,
		    c->request_timeout);
		ev.pg[i].db.generic_plans = true;
		ev.pg[i].fd = -1;
		(void)pg_ready(&ev.pg[i]);
	}
	atomic_store(&slot->state, SB_IDLE);

	for (;;) {
		int	 n;
		int64_t	 now;

		if (worker_stop) {
			if (ev.accepting) {
				(void)epoll_ctl(ev.ep, EPOLL_CTL_DEL, lfd, NULL);
				ev.accepting = false;
				atomic_store(&slot->state, SB_STOPPING);
			}
			if (ev.nconns == 0 && ev.inflight == 0 &&
			    ev.nwaiting == 0)
				break;
		}
		n = epoll_wait(ev.ep, events, EV_MAX_EVENTS,
		    worker_stop ? 100 : 1000);
		if (n == -1 && errno != EINTR) {
			log_error("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			void		*tag = events[i].data.ptr;
			uint32_t	 e = events[i].events;

			if (tag == &tag_listen) {
				if (!worker_stop)
					accept_all();
			} else if (is_pg_tag(tag)) {
				struct evpg *pg = tag;
				if ((e & EPOLLOUT) && pg->db.conn != NULL &&
				    PQflush(pg->db.conn) == -1)
					pg_broken(pg);
				if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
					pg_read(pg);
			} else {
				struct evconn *ec = tag;
				/* Closed earlier in this batch: the fd is gone,
				 * the struct is alive only while in the pipeline. */
				if (ec->fd == -1)
					continue;
				if (e & EPOLLOUT)
					conn_flush(ec);
				if (ec->fd != -1 &&
				    (e & (EPOLLIN | EPOLLERR | EPOLLHUP)))
					conn_read(ec);
			}
		}
		pg_sync_and_flush();
		free_dead();
		log_flush();
		atomic_store(&slot->state,
		    ev.inflight + ev.nwaiting > 0 ?
			SB_BUSY :
			(worker_stop ? SB_STOPPING : SB_IDLE));
		atomic_store(&slot->inflight, (int)(ev.inflight + ev.nwaiting));
		now = util_mono_us();
		if (now - last_sweep >= 1000000 || worker_stop) {
			sweep(now);
			last_sweep = now;
		}
	}
	while (ev.nconns > 0)
		conn_close(ev.conns[0]);
	free_dead();
	for (size_t i = 0; i < ev.npg; i++) {
		db_close(&ev.pg[i].db);
		free(ev.pg[i].q);
	}
	app_free(&ev.app);
	log_flush();
	free(ev.conns);
	close(ev.ep);
	return 0;
}
