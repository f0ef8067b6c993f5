/*
 * ev_conn.c: one FastCGI connection of the event worker (the design is
 * in ev_conn.h).
 *
 * Call graph, which has no cycle: ev_conn_event -> conn_read ->
 * conn_process -> take_record -> request_ready -> (respond |
 * ev_batch_submit); conn_process -> conn_flush.  The job callback
 * (job_done, run by the loop) -> respond, conn_process.  respond only
 * appends to the output; conn_flush only writes it.
 */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_limits.h"
#include "app.h"
#include "buf.h"
#include "endpoints.h"
#include "ev_conn.h"
#include "ev_server.h"
#include "ev_slab.h"
#include "fcgi_params.h"
#include "fcgi_proto.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "util.h"

#define EV_PARAMS_MAX	   (64 * 1024) /* bytes of FastCGI params */
#define EV_IN_MAX	   (FCGI_HEADER_LEN + FCGI_MAX_CONTENT + 255)
#define EV_OUT_CAP	   (256 * 1024)	     /* unread output: stop reading */
#define EV_IDLE_US	   (300LL * 1000000) /* idle kept connection */
#define EV_BUF_KEEP	   (64 * 1024)	     /* larger buffers are given back */
#define EV_TRIM_US	   (2LL * 1000000)   /* idle this long: drop buffers */
#define EV_READS_PER_EVENT 16		     /* then the others get a turn */

enum conn_state {
	CS_IDLE = 0, /* between requests */
	CS_PARAMS,   /* BEGIN_REQUEST taken, PARAMS coming */
	CS_STDIN,    /* PARAMS ended, STDIN coming */
	CS_SERVING,  /* its job is in the pipeline */
	CS_CLOSED    /* fd closed, job still in the pipeline */
};

/* The params this service reads, decoded into NUL-terminated copies. */
#define WANTED(s)                \
	{                        \
		s, sizeof(s) - 1 \
	}
static const struct {
	const char *name;
	size_t	    len; /* compared first: most params are not wanted */
} wanted[] = { WANTED("REQUEST_METHOD"), WANTED("REQUEST_URI"),
	WANTED("SCRIPT_NAME"), WANTED("PATH_INFO"), WANTED("QUERY_STRING"),
	WANTED("CONTENT_TYPE"), WANTED("CONTENT_LENGTH"),
	WANTED("HTTP_AUTHORIZATION"), WANTED("HTTP_TRACEPARENT"),
	WANTED("HTTP_X_REQUEST_ID"), WANTED("HTTP_IF_MATCH"),
	WANTED("HTTP_IF_NONE_MATCH"), WANTED("HTTP_IDEMPOTENCY_KEY") };
#undef WANTED
#define NWANTED (sizeof(wanted) / sizeof(wanted[0]))

struct ev_conn {
	struct ev_tag	  tag; /* EV_TAG_CONN; first */
	struct ev_server *srv;
	int		  fd; /* -1 once closed */
	enum conn_state	  state;
	uint16_t	  id;
	bool		  keep_conn;
	bool		  aborted;	 /* ABORT_REQUEST: end, no body */
	bool		  refused;	 /* over the connection cap */
	bool		  close_after;	 /* close once output is out */
	bool		  params_over;	 /* over EV_PARAMS_MAX */
	uint32_t	  events;	 /* epoll interest now */
	int64_t		  last_us;	 /* last byte in or out */
	int64_t		  write_wait_us; /* output blocked since, or 0 */
	int64_t		  req_start_us;	 /* first byte of this request */

	struct buf  in;	 /* records read, not yet taken */
	struct buf  out; /* records to write, from out_off */
	size_t	    out_off;
	struct buf  params; /* FCGI_PARAMS of the request */
	struct buf  strs;   /* the values of vals[], NUL-terminated */
	const char *vals[NWANTED];

	/* The request being read or served. */
	struct req	      req;
	struct resp	      resp;
	struct plan	      plan;
	struct ev_job	      job;
	struct fcgi_req_extra extra;
	unsigned long long    stdin_bytes;

	struct ev_link link; /* the server's hold on it */
};

struct ev_link *
ev_conn_link(struct ev_conn *c)
{
	return &c->link;
}

static void
job_done(struct ev_job *);
static void
conn_process(struct ev_conn *);

struct ev_conn *
ev_conn_new(struct ev_server *srv, int fd, bool refused)
{
	struct ev_conn *c = ev_slab_alloc(&srv->conn_mem, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->tag.kind = EV_TAG_CONN;
	c->srv = srv;
	c->link.conn = c;
	c->fd = fd;
	c->refused = refused;
	c->last_us = util_mono_us();
	c->job.done = job_done;
	c->events = EPOLLIN;
	if (ev_server_watch(srv, EPOLL_CTL_ADD, fd, EPOLLIN, &c->tag) == -1) {
		ev_slab_free(&srv->conn_mem, c);
		return NULL;
	}
	return c;
}

/* Heap bytes c's buffers hold (their capacity), for the heap's trim. */
static size_t
bufs_held(const struct ev_conn *c)
{
	return c->in.cap + c->out.cap + c->params.cap + c->strs.cap +
	    c->req.body.cap + c->resp.body.cap;
}

void
ev_conn_free(struct ev_conn *c)
{
	c->srv->trim_freed += bufs_held(c);
	req_free(&c->req);
	resp_free(&c->resp);
	plan_free(&c->plan);
	fcgi_req_extra_free(&c->extra);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->params);
	buf_free(&c->strs);
	ev_slab_free(&c->srv->conn_mem, c);
}

void
ev_conn_close(struct ev_conn *c)
{
	if (c->fd == -1)
		return;
	close(c->fd); /* also takes it out of the epoll set */
	c->fd = -1;
	ev_server_forget(c->srv, &c->link);
	if (c->refused && c->srv->nrefused > 0)
		c->srv->nrefused--;
	if (c->state == CS_SERVING) {
		/* Its statement runs on; job_done frees it. */
		c->state = CS_CLOSED;
		c->job.cancelled = true;
		return;
	}
	c->state = CS_CLOSED;
	ev_server_retire(c->srv, &c->link);
}

/* Where the next bytes of b go, as FastCGI writes them. */
static uint8_t *
buf_end(struct buf *b)
{
	return (uint8_t *)b->p + b->len;
}

static size_t
out_pending(const struct ev_conn *c)
{
	return c->out.len - c->out_off;
}

static int
out_reserve(struct ev_conn *c, size_t n)
{
	return buf_reserve(&c->out, n) ? 0 : -1;
}

/* Sets the epoll interest to what c can take now. */
static void
conn_interest(struct ev_conn *c)
{
	uint32_t want = 0;

	if (c->fd == -1)
		return;
	if (c->in.len < EV_IN_MAX && out_pending(c) <= EV_OUT_CAP)
		want |= EPOLLIN;
	if (out_pending(c) > 0)
		want |= EPOLLOUT;
	if (want != c->events &&
	    ev_server_watch(c->srv, EPOLL_CTL_MOD, c->fd, want, &c->tag) == 0)
		c->events = want;
}

/* --- output ---------------------------------------------------------- */

/* Writes what it can; closes c when done and it should go. */
static void
conn_flush(struct ev_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.p + c->out_off,
		    c->out.len - c->out_off);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->last_us = util_mono_us();
			c->write_wait_us = 0;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (c->write_wait_us == 0)
				c->write_wait_us = util_mono_us();
			return;
		}
		ev_conn_close(c);
		return;
	}
	c->out_off = 0;
	c->write_wait_us = 0;
	buf_reset(&c->out, EV_BUF_KEEP);
	if (c->state != CS_IDLE)
		return;
	/* A stopping worker never closes a kept connection itself: nginx
	 * may take it from its cache and send a request the very moment
	 * the close is on its way, and it does not retry a POST or PATCH
	 * it sent.  nginx closes its kept connections (keepalive_requests
	 * and keepalive_timeout of upstream taskapi_ev), race-free, and the
	 * worker exits once none is left (ev_loop.c). */
	if (c->close_after)
		ev_conn_close(c);
}

/* Queues an END_REQUEST record for id. */
static void
out_end_request(struct ev_conn *c, uint16_t id, uint8_t status)
{
	if (out_reserve(c, 16) == -1) {
		ev_conn_close(c);
		return;
	}
	c->out.len += fcgi_end_request(buf_end(&c->out), id, 0, status);
}

/* Clears the request; the connection may carry the next one. */
static void
request_done(struct ev_conn *c)
{
	req_reset(&c->req);
	resp_reset(&c->resp);
	plan_reset(&c->plan);
	c->state = CS_IDLE;
	c->aborted = c->params_over = false;
	buf_reset(&c->params, EV_BUF_KEEP);
	c->stdin_bytes = 0;
	c->job.cancelled = false;
}

/*
 * Queues the response of the request: the CGI head and body as STDOUT
 * records, the empty STDOUT and END_REQUEST; then logs it and clears
 * the request.
 */
static void
respond(struct ev_conn *c)
{
	char	     head[RESP_HEAD_MAX];
	size_t	     hlen, need;
	struct resp *r = &c->resp;

	hlen = resp_head(r, c->req.request_id, c->req.traceresponse, head,
	    sizeof(head));
	if (c->aborted) { /* the front end gave up on it: no content */
		hlen = 0;
		r->body.len = 0;
	}
	need = fcgi_stream_size(hlen) + fcgi_stream_size(r->body.len) +
	    FCGI_HEADER_LEN + 16;
	if (out_reserve(c, need) == -1) {
		log_error("out of memory for a response");
		ev_conn_close(c);
		return;
	}
	c->out.len +=
	    fcgi_stream(buf_end(&c->out), FCGI_T_STDOUT, c->id, head, hlen);
	c->out.len += fcgi_stream(buf_end(&c->out), FCGI_T_STDOUT, c->id,
	    r->body.p, r->body.len);
	c->out.len += fcgi_header(buf_end(&c->out), FCGI_T_STDOUT, c->id, 0, 0);
	c->out.len += fcgi_end_request(buf_end(&c->out), c->id, 0,
	    FCGI_PS_REQUEST_COMPLETE);

	app_account(&c->req, c->req.method_str, r->status);
	atomic_fetch_add(&c->srv->slot->requests, 1);
	if (!c->keep_conn || c->refused)
		c->close_after = true;
	request_done(c);
}

/* An answer decided before the application: status and message. */
static void
respond_early(struct ev_conn *c, int status, const char *why)
{
	resp_error_status(&c->resp, status, why);
	if (status == 503)
		c->resp.retry_after = 1;
	respond(c);
}

/* --- the request ----------------------------------------------------- */

static const char *
param_get(void *ctx, const char *name)
{
	const struct ev_conn *c = ctx;

	for (size_t i = 0; i < NWANTED; i++)
		if (strcmp(wanted[i].name, name) == 0)
			return c->vals[i];
	return NULL;
}

/*
 * Copies the params this service reads into c->strs (NUL-terminated).
 * Returns 0, or -1 on malformed pairs or a NUL inside a value.
 */
static int
params_decode(struct ev_conn *c)
{
	const uint8_t *p = (const uint8_t *)c->params.p, *name, *val;
	size_t	       left = c->params.len, nlen, vlen, off = 0;
	int	       rc;

	memset(c->vals, 0, sizeof(c->vals));
	buf_reset(&c->strs, EV_BUF_KEEP);
	if (!buf_reserve(&c->strs, c->params.len + 8))
		return -1;
	while (
	    (rc = fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen)) == 1) {
		for (size_t i = 0; i < NWANTED; i++) {
			if (wanted[i].len != nlen ||
			    memcmp(wanted[i].name, name, nlen) != 0)
				continue;
			if (memchr(val, '\0', vlen) != NULL)
				return -1;
			memcpy(c->strs.p + off, val, vlen);
			c->strs.p[off + vlen] = '\0';
			c->vals[i] = c->strs.p + off;
			off += vlen + 1;
		}
	}
	return rc == -1 ? -1 : 0;
}

/* A request answered without its params: the defaults ("-", "/", a
 * fresh request id), so that it is logged and answered like any. */
static void
req_unparsed(struct ev_conn *c)
{
	const char *why = NULL;

	memset(c->vals, 0, sizeof(c->vals));
	(void)fcgi_params_to_req(param_get, c, &c->req, &c->extra, &why);
}

/* The whole request is in: answer it, or hand its statement on. */
static void
request_ready(struct ev_conn *c)
{
	struct ev_server *srv = c->srv;
	const char	 *why = NULL;
	int		  st;

	if (c->params_over) {
		req_unparsed(c);
		log_warn("FastCGI params over %d bytes; answered 431",
		    EV_PARAMS_MAX);
		respond_early(c, 431, "the request headers are too large");
		return;
	}
	if (params_decode(c) == -1) {
		req_unparsed(c);
		log_warn("malformed FastCGI params; answered 400");
		respond_early(c, 400, "malformed request parameters");
		return;
	}
	if ((st = fcgi_params_to_req(param_get, c, &c->req, &c->extra, &why)) !=
		0 ||
	    (st = fcgi_body_check(&c->extra, c->stdin_bytes, &why)) != 0) {
		respond_early(c, st, why);
		return;
	}
	if (c->refused) {
		respond_early(c, 503, "too many connections; try again");
		return;
	}
	if (c->req.body_too_large)
		log_warn("request body over %d bytes; answered 413",
		    LIM_BODY_MAX);
	log_set_request(c->req.request_id, c->req.trace_id);
	if (!app_begin(&srv->app, &c->req, &c->resp, &c->plan)) {
		log_set_request(NULL, NULL);
		respond(c);
		return;
	}
	log_set_request(NULL, NULL);
	if (endpoints[c->req.match.endpoint].stream != NULL) {
		log_error("%s reached the event worker; route it to the "
			  "blocking pool in nginx",
		    router_pattern(c->req.match.route));
		resp_error_status(&c->resp, 500,
		    "this route is not served here");
		respond(c);
		return;
	}
	c->job.stmt = c->plan.stmt;
	c->job.nparams = c->plan.nparams;
	c->job.values = c->plan.values;
	c->job.formats = NULL; /* all text */
	c->job.lengths = NULL;
	c->job.write = !db_stmt_readonly(c->plan.stmt);
	c->job.shared = c->plan.stmt == STMT_PING;
	c->job.lock_key = db_plan_lock_key(&c->plan);
	c->job.cancelled = false;
	c->state = CS_SERVING;
	ev_batch_submit(&srv->batch, &c->job);
}

/* The pipeline is done with the request's statement. */
static void
job_done(struct ev_job *j)
{
	struct ev_conn *c = (struct ev_conn *)(void *)((char *)j -
	    offsetof(struct ev_conn, job));

	if (c->state == CS_CLOSED) { /* its client went away */
		ev_server_retire(c->srv, &c->link);
		return;
	}
	app_finish(&c->srv->app, &c->req, j->res, j->err, &c->resp);
	respond(c);
	/* The next request may already be buffered. */
	conn_process(c);
}

/* GET_VALUES: the variables asked for that this worker knows. */
static void
answer_get_values(struct ev_conn *c, const struct fcgi_record *rec)
{
	char	       maxc[24];
	const char    *known[3][2] = { { "FCGI_MAX_CONNS", maxc },
		   { "FCGI_MAX_REQS", maxc }, { "FCGI_MPXS_CONNS", "0" } };
	uint8_t	       body[256];
	size_t	       len = 0;
	const uint8_t *p = rec->content, *name, *val;
	size_t	       left = rec->len, nlen, vlen;

	(void)snprintf(maxc, sizeof(maxc), "%ld",
	    c->srv->conf->ev_max_connections);
	while (fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen) == 1) {
		for (size_t i = 0; i < 3; i++) {
			size_t kl = strlen(known[i][0]),
			       vl = strlen(known[i][1]);

			if (kl != nlen ||
			    memcmp(known[i][0], name, nlen) != 0 ||
			    len + fcgi_param_size(kl, vl) > sizeof(body))
				continue;
			len += fcgi_param_put(body + len, known[i][0], kl,
			    known[i][1], vl);
		}
	}
	if (out_reserve(c, fcgi_stream_size(len) + FCGI_HEADER_LEN) == -1) {
		ev_conn_close(c);
		return;
	}
	if (len == 0)
		c->out.len += fcgi_header(buf_end(&c->out),
		    FCGI_T_GET_VALUES_RESULT, 0, 0, 0);
	else
		c->out.len += fcgi_stream(buf_end(&c->out),
		    FCGI_T_GET_VALUES_RESULT, 0, body, len);
}

static void
answer_management(struct ev_conn *c, const struct fcgi_record *rec)
{
	if (rec->type == FCGI_T_GET_VALUES) {
		answer_get_values(c, rec);
		return;
	}
	if (out_reserve(c, FCGI_HEADER_LEN + 8) == -1) {
		ev_conn_close(c);
		return;
	}
	c->out.len +=
	    fcgi_header(buf_end(&c->out), FCGI_T_UNKNOWN_TYPE, 0, 8, 0);
	memset(buf_end(&c->out), 0, 8);
	*buf_end(&c->out) = rec->type;
	c->out.len += 8;
}

static void
take_begin(struct ev_conn *c, const struct fcgi_record *rec)
{
	unsigned role;

	if (rec->len < 8) {
		log_warn("short FCGI_BEGIN_REQUEST; closing");
		ev_conn_close(c);
		return;
	}
	if (c->state != CS_IDLE) { /* one request at a time */
		if (rec->id != c->id)
			out_end_request(c, rec->id, FCGI_PS_CANT_MPX_CONN);
		return;
	}
	role = ((unsigned)rec->content[0] << 8) | rec->content[1];
	if (role != FCGI_ROLE_RESPONDER) {
		out_end_request(c, rec->id, FCGI_PS_UNKNOWN_ROLE);
		/* The refusal is this request's answer: with FCGI_KEEP_CONN
		 * clear the connection ends with it, as after any answer. */
		if ((rec->content[2] & FCGI_FLAG_KEEP_CONN) == 0)
			c->close_after = true;
		return;
	}
	c->state = CS_PARAMS;
	c->id = rec->id;
	c->keep_conn = (rec->content[2] & FCGI_FLAG_KEEP_CONN) != 0;
	buf_reset(&c->params, EV_BUF_KEEP);
	c->params.max = EV_PARAMS_MAX;
	c->params_over = false;
	c->stdin_bytes = 0;
}

static void
take_params(struct ev_conn *c, const struct fcgi_record *rec)
{
	if (c->state != CS_PARAMS || rec->id != c->id)
		return;
	if (rec->len == 0) {
		c->state = CS_STDIN;
		return;
	}
	/* Past EV_PARAMS_MAX (the buffer's cap), or out of memory. */
	if (c->params_over || !buf_append(&c->params, rec->content, rec->len))
		c->params_over = true; /* answered 431 at the end */
}

static void
take_stdin(struct ev_conn *c, const struct fcgi_record *rec)
{
	if (rec->id != c->id || (c->state != CS_STDIN && c->state != CS_PARAMS))
		return;
	if (c->state == CS_PARAMS) {
		log_warn("FCGI_STDIN before the end of FCGI_PARAMS; closing");
		ev_conn_close(c);
		return;
	}
	if (rec->len == 0) {
		request_ready(c);
		return;
	}
	c->stdin_bytes += rec->len;
	if (c->req.body_too_large ||
	    c->req.body.len + rec->len > LIM_BODY_MAX) {
		c->req.body_too_large = true; /* answered 413 at the end */
		return;
	}
	if (!buf_append(&c->req.body, rec->content, rec->len)) {
		log_error("out of memory for a request body");
		ev_conn_close(c);
		return;
	}
}

static void
take_record(struct ev_conn *c, const struct fcgi_record *rec)
{
	if (rec->id == 0) {
		answer_management(c, rec);
		return;
	}
	switch (rec->type) {
	case FCGI_T_BEGIN_REQUEST:
		take_begin(c, rec);
		break;
	case FCGI_T_ABORT_REQUEST:
		if ((c->state == CS_PARAMS || c->state == CS_STDIN) &&
		    rec->id == c->id) {
			req_unparsed(
			    c); /* logged with "-" for what is unknown */
			c->aborted = true;
			c->resp.status = 499;
			respond(c);
		}
		break;
	case FCGI_T_PARAMS:
		take_params(c, rec);
		break;
	case FCGI_T_STDIN:
		take_stdin(c, rec);
		break;
	default:
		break; /* DATA and stray records are ignored */
	}
}

/*
 * Takes every whole record in the input, until a request is handed to
 * the pipeline or the output waiting for the peer is over its cap;
 * then writes what it can.
 */
static void
conn_process(struct ev_conn *c)
{
	size_t off = 0;

	while (c->fd != -1 && c->state != CS_SERVING &&
	    out_pending(c) <= EV_OUT_CAP) {
		struct fcgi_record rec;
		long		   n;

		n = fcgi_record_next((const uint8_t *)c->in.p + off,
		    c->in.len - off, &rec);
		if (n == 0)
			break;
		if (n < 0) {
			log_warn("not FastCGI on the event socket; closing");
			ev_conn_close(c);
			return;
		}
		off += (size_t)n;
		take_record(c, &rec);
	}
	if (c->fd == -1)
		return;
	if (off > 0) {
		memmove(c->in.p, c->in.p + off, c->in.len - off);
		c->in.len -= off;
		if (c->in.len > 0 && c->state == CS_IDLE)
			c->req_start_us = util_mono_us();
	}
	if (c->in.len == 0)
		buf_reset(&c->in, EV_BUF_KEEP);
	if (out_pending(c) > 0)
		conn_flush(c);
	conn_interest(c);
}

/* Reads once into the free part of the input: 1 when it filled it
 * (more may wait), 0 when there is nothing more now, -1 closed. */
static int
conn_read_once(struct ev_conn *c)
{
	ssize_t n;
	size_t	room = EV_IN_MAX - c->in.len;

	if (c->in.len >= EV_IN_MAX)
		return 0; /* a record in progress and SERVING: wait */
	c->in.max = EV_IN_MAX;
	if (!buf_reserve(&c->in, room < 4096 ? room : 4096)) {
		log_error("out of memory for FastCGI input");
		ev_conn_close(c);
		return -1;
	}
	for (;;) {
		/* All the room there is but the NUL's, within EV_IN_MAX. */
		n = read(c->fd, c->in.p + c->in.len, c->in.cap - 1 - c->in.len);
		if (n > 0)
			break;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		ev_conn_close(c); /* EOF, or an error: the peer is gone */
		return -1;
	}
	if (c->in.len == 0 && c->state == CS_IDLE)
		c->req_start_us = util_mono_us();
	c->in.len += (size_t)n;
	c->last_us = util_mono_us();
	/* Short of the space offered: the socket is most likely empty, so
	 * no second read(2) just to hear EAGAIN. */
	return c->in.len < c->in.cap - 1 ? 0 : 1;
}

void
ev_conn_event(struct ev_conn *c, uint32_t events)
{
	if (c->fd == -1) /* closed earlier in this turn */
		return;
	if (events & EPOLLOUT) {
		conn_flush(c);
		if (c->fd == -1)
			return;
	}
	if (events & EPOLLIN) {
		for (int i = 0; i < EV_READS_PER_EVENT; i++) {
			int rc = conn_read_once(c);

			if (rc == -1)
				return;
			if (c->state != CS_SERVING)
				conn_process(c);
			if (c->fd == -1)
				return;
			if (rc == 0 || !(c->events & EPOLLIN))
				break;
		}
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		ev_conn_close(c);
		return;
	}
	if (c->state != CS_SERVING && c->in.len > 0)
		conn_process(c);
	else if (c->fd != -1)
		conn_interest(c);
}

void
ev_conn_trim(struct ev_conn *c, int64_t now)
{
	if (c->state != CS_IDLE || c->in.len > 0 || out_pending(c) > 0 ||
	    now - c->last_us <= EV_TRIM_US ||
	    (c->in.cap == 0 && c->out.cap == 0 && c->params.cap == 0))
		return;
	c->srv->trim_freed += bufs_held(c);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->params);
	buf_free(&c->strs);
	c->out_off = 0;
	req_free(&c->req);
	resp_free(&c->resp);
	plan_free(&c->plan);
}

bool
ev_conn_sweep(struct ev_conn *c, int64_t now)
{
	int64_t limit = c->srv->conf->request_timeout * 1000000LL;
	bool	reading = c->state == CS_PARAMS || c->state == CS_STDIN ||
	    (c->state == CS_IDLE && c->in.len > 0);

	if (reading && now - c->req_start_us > limit) {
		log_warn(
		    "a FastCGI request did not come in whole within %ld s; "
		    "dropping its connection",
		    c->srv->conf->request_timeout);
		ev_conn_close(c);
		return true;
	}
	if (c->write_wait_us != 0 && now - c->write_wait_us > limit) {
		log_warn("the FastCGI peer read no answer for %ld s; dropping "
			 "its connection",
		    c->srv->conf->request_timeout);
		ev_conn_close(c);
		return true;
	}
	/* Idle far longer than nginx keeps one (keepalive_timeout): a peer
	 * that forgot it.  Stopping changes nothing here (conn_flush). */
	if (c->state == CS_IDLE && !reading && out_pending(c) == 0 &&
	    now - c->last_us > EV_IDLE_US) {
		ev_conn_close(c);
		return true;
	}
	return false;
}
