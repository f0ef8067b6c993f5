/*
 * worker.c: the libfcgi request loop.
 *
 * The worker blocks in accept(2) on the shared socket (fcgi_conn.c);
 * the kernel hands each connection to one idle worker.  The stop signal
 * is installed without SA_RESTART, so a signal makes accept return and
 * the loop end.  Once a connection is taken the slot says "reading" (the
 * master counts it busy and, on demand, starts another worker), the stop
 * signals are held until the request is read, and the whole request
 * must arrive within WORKER_READ_TIMEOUT_S (SIGALRM, no SA_RESTART,
 * makes the blocked read fail): a peer that stops sending is dropped.
 *
 * libfcgi then reads the request from a duplicate of the connection, so
 * that the worker still holds the connection when libfcgi gives up on
 * it (it closes its copy without a word) and can answer what the spec
 * wants: FCGI_END_REQUEST for an aborted request, FCGI_UNKNOWN_ROLE for
 * a role other than the responder.
 *
 * One request per connection, FCGI_KEEP_CONN or not: the connection is
 * closed after FCGI_END_REQUEST.  libfcgi cannot serve a kept connection
 * safely (it loses pipelined requests buffered with the first one, and
 * cannot find the next request after an answer given before the body was
 * read), and a kept connection would hold a worker of this small pool
 * between requests.  A front end must not reuse connections to this
 * pool (README, "FastCGI front ends"); one that does sees a clean close
 * after each answer.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <sodium.h>

#include "admission.h"
#include "api_limits.h"
#include "app.h"
#include "fcgi_conn.h"
#include "fcgi_params.h"
#include "fcgi_proto.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "scoreboard.h"
#include "util.h"
#include "worker.h"

/*
 * The request (params and body) must be in within this.  nginx sends a
 * request whole once it has it (it buffers the body: client_body_timeout
 * 10 s is the client's time); a front end that streams a slow client's
 * body through has as long as nginx gives that client.
 */
#define WORKER_READ_TIMEOUT_S 10u

/* Encoded FastCGI params accepted (as the event worker's limit). */
#define WORKER_PARAMS_MAX (64 * 1024)

/* Only interrupts the read it lands in (installed without SA_RESTART). */
static void
on_alarm(int sig)
{
	(void)sig;
}

/* SIGALRM bounds the read of a request (WORKER_READ_TIMEOUT_S). */
static int
install_alarm(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0; /* no SA_RESTART: the blocked read must fail */
	return sigaction(SIGALRM, &sa, NULL);
}

/* How read_body ended. */
enum body_result {
	BODY_OK = 0,
	BODY_NOMEM,	 /* 500 */
	BODY_BAD_LENGTH, /* 400: CONTENT_LENGTH unparsable or not the body's */
	BODY_BROKEN,	 /* the stream failed: abort, timeout, garbage */
	BODY_PARAMS_TOO_LARGE /* 431, body not read */
};

/*
 * Reads the body: at most LIM_BODY_MAX bytes are kept; a longer body
 * (or a CONTENT_LENGTH that says so) marks the request too large
 * without reading the rest.  Chunked uploads arrive without a length
 * and are read to their end under the same cap.  A CONTENT_LENGTH that
 * is not a number or is not the length of the body that came is a bad
 * request: either the front end or the client lies, and which part of
 * the body is the request is not known.
 */
static enum body_result
read_body(FCGX_Request *fr, struct req *r, const struct fcgi_req_extra *x)
{
	long long want = x->content_length; /* -1: none announced */

	if (want > LIM_BODY_MAX) {
		r->body_too_large = true;
		return BODY_OK;
	}
	for (;;) {
		int n;

		if (!buf_reserve(&r->body, 8192))
			return BODY_NOMEM;
		n = FCGX_GetStr(r->body.p + r->body.len, 8192, fr->in);
		if (n < 0 || FCGX_GetError(fr->in) != 0)
			return BODY_BROKEN;
		r->body.len += (size_t)n;
		if (r->body.len > LIM_BODY_MAX) {
			r->body_too_large = true;
			return want >= 0 ? BODY_BAD_LENGTH : BODY_OK;
		}
		if (n < 8192)
			break;
	}
	if (r->body.p != NULL)
		r->body.p[r->body.len] = '\0';
	if (want >= 0 && (size_t)want != r->body.len)
		return BODY_BAD_LENGTH;
	return BODY_OK;
}

/* Bytes of the FastCGI params as they came (libfcgi adds FCGI_ROLE). */
static size_t
params_size(FCGX_ParamArray envp)
{
	size_t total = 0;

	for (; envp != NULL && *envp != NULL; envp++) {
		const char *eq = strchr(*envp, '=');
		size_t	    nl, vl;

		if (eq == NULL || strncmp(*envp, "FCGI_ROLE=", 10) == 0)
			continue;
		nl = (size_t)(eq - *envp);
		vl = strlen(eq + 1);
		total += nl + vl + (nl > 127 ? 4 : 1) + (vl > 127 ? 4 : 1);
	}
	return total;
}

/* What the streaming callbacks write to. */
struct fcgi_out {
	FCGX_Request	*fr;
	struct req	*req;
	struct sb_slot	*slot;
};

static int
fcgi_head(void *ctx, const struct resp *resp)
{
	struct fcgi_out	*o = ctx;
	char		 head[RESP_HEAD_MAX];
	size_t		 n;

	n = resp_head(resp, o->req->request_id, o->req->traceresponse, head,
	    sizeof(head));
	if (n == 0)
		return -1;
	return FCGX_PutStr(head, (int)n, o->fr->out) == (int)n ? 0 : -1;
}

static int
fcgi_write(void *ctx, const char *buf, size_t len)
{
	struct fcgi_out	*o = ctx;

	return FCGX_PutStr(buf, (int)len, o->fr->out) == (int)len ? 0 : -1;
}

static int
fcgi_flush(void *ctx)
{
	struct fcgi_out	*o = ctx;

	if (FCGX_FFlush(o->fr->out) != 0)
		return -1;
	/*
	 * Progress: the master's stuck-kill counts from the last flush that
	 * went out, so a long export that keeps moving is not cut, and one
	 * whose reader stopped is.
	 */
	atomic_store(&o->slot->progress_us, util_mono_us());
	return 0;
}

/* Writes a complete buffered response; returns 0 or -1. */
static int
send_resp(FCGX_Request *fr, const struct req *r, const struct resp *resp)
{
	char	 head[RESP_HEAD_MAX];
	size_t	 n;

	n = resp_head(resp, r->request_id, r->traceresponse, head,
	    sizeof(head));
	if (n == 0)
		return -1;
	if (FCGX_PutStr(head, (int)n, fr->out) != (int)n)
		return -1;
	if (resp->body.len > 0 &&
	    FCGX_PutStr(resp->body.p, (int)resp->body.len, fr->out) !=
		(int)resp->body.len)
		return -1;
	return 0;
}

static const char *
fcgx_param(void *envp, const char *name)
{
	return FCGX_GetParam(name, envp);
}

/*
 * Fills the request's input fields from the FastCGI parameters (one
 * rule for both workers: fcgi_params.c).  Returns 0, or 400 with *why.
 */
static int
req_from_fcgi(FCGX_Request *fr, struct req *r, struct fcgi_req_extra *x,
    const char **why)
{
	return fcgi_params_to_req(fcgx_param, fr->envp, r, x, why);
}

/*
 * Having taken a request: if fewer idle workers than TASKAPI_SPARE_WORKERS
 * are left, wake the master (SIGUSR1) to start another now rather than
 * at its next look, up to 200 ms later.  With no spares ("ondemand") it
 * is woken when none is left idle, so that it watches the listen socket
 * again (supervisor.c, ondemand_watch).  A scan of the scoreboard costs
 * about a microsecond; the routes served here cost milliseconds.
 */
static void
spares_check(const struct conf *c)
{
	/* With no spares, the last idle one is the one to wake it for. */
	size_t want = c->spare_workers > 0 ? (size_t)c->spare_workers : 1;
	pid_t  master;

	if (scoreboard == NULL || c->spare_workers >= c->workers ||
	    scoreboard_fcgi_ready(scoreboard) >= want)
		return;
	master = (pid_t)atomic_load(&scoreboard->master_pid);
	if (master > 1 && master == getppid())
		(void)kill(master, SIGUSR1);
}

/*
 * Whether to run the request just read (admission.c says why not): a
 * refused one is answered 503 + Retry-After (the crash brake holds, or it
 * waited in the queue past the request timeout) or, with nginx gone, not
 * at all (the log says 499, as nginx's does).
 */
static bool
admit(FCGX_Request *fr, const struct conf *c, struct resp *resp)
{
	int	retry_after = 0;
	int64_t brake = scoreboard != NULL ?
	    atomic_load(&scoreboard->brake_until_us[SB_KIND_FCGI]) :
	    0;

	switch (
	    admission_check(fr->ipcFd, FCGX_GetParam("REQUEST_START", fr->envp),
		c->request_timeout * 1000000LL, brake, &retry_after)) {
	case ADMIT_RUN:
		return true;
	case ADMIT_BRAKE:
		resp_error_status(resp, 503,
		    "service unavailable: workers are restarting");
		break;
	case ADMIT_STALE:
		log_warn("request waited longer than the request timeout "
			 "(%ld s) in the queue; not run",
		    c->request_timeout);
		resp_error_status(resp, 503, "service unavailable: overloaded");
		break;
	case ADMIT_GONE:
		log_info("nginx closed the connection before the request ran; "
			 "not run");
		resp_error_status(resp, 499, "client closed request");
		break;
	}
	resp->retry_after = retry_after > 0 ? retry_after : 1;
	return false;
}

/*
 * After a stop signal: whether to take one more connection.  Those
 * already queued on the pool's socket are served before the worker
 * exits: they were handed over and nginx waits for their answer, and the
 * socket may close with the master (a JSON 502 for each).  Bounded by
 * half of TASKAPI_SHUTDOWN_TIMEOUT from the signal, since nginx keeps
 * queueing new ones meanwhile and the master kills what still runs at
 * the timeout.  Another worker may take the connection seen here first;
 * the accept that then waits is interrupted by the master's repeated
 * SIGTERM (every second), and the queue looked at again.
 */
static bool
drain_queued(int listen_fd, const struct conf *c, int64_t *until)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };
	int64_t	      now = util_mono_us();

	if (*until == 0)
		*until = now + c->shutdown_timeout * 1000000LL / 2;
	return now < *until && poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

/*
 * Blocks or unblocks the stop signals: held while a request is read, so
 * that a stop (a reload, a shutdown) lets the request finish instead of
 * cutting its read; SIGALRM still interrupts.
 */
static void
hold_stop_signals(bool hold)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	if (sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL) == -1)
		log_warn("sigprocmask: %s", strerror(errno));
}

/*
 * Hands the connection to libfcgi, which reads the request's params
 * from a duplicate of it.  Returns 1 with a responder request in fr, or
 * 0 when the connection is done with (answered here if the spec wants
 * an answer): libfcgi refused it, it timed out, or the role is not ours.
 */
static int
take_request(FCGX_Request *fr, int fd)
{
	int dup_fd;

	if ((dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		log_error("dup: %s", strerror(errno));
		return 0;
	}
	fr->ipcFd = dup_fd;
	/*
	 * FCGX_Accept_r first finishes the previous request: kept, so that
	 * it does not close the connection just handed over.  detached: its
	 * close of the duplicate is a plain close(2), not a shutdown(2)
	 * followed by a drain of up to 2 s per read, which a peer that
	 * trickles bytes could stretch without end.
	 */
	fr->keepConnection = 1;
	fr->detached = 1;
	if (FCGX_Accept_r(fr) < 0) {
		/*
		 * libfcgi gave up (and closed its copy): end of file, the
		 * read deadline, a protocol error, FCGI_ABORT_REQUEST before
		 * the params were in, or a role it does not know.  Once it
		 * had the FCGI_BEGIN_REQUEST, that request gets its
		 * FCGI_END_REQUEST.
		 */
		fr->ipcFd = -1;
		if (fr->isBeginProcessed) {
			/* libfcgi reads 1-3: responder, authorizer, filter */
			bool known =
			    fr->role >= FCGI_ROLE_RESPONDER && fr->role <= 3;
			if (!known)
				log_info("FastCGI role %d refused", fr->role);
			else
				log_info(
				    "FastCGI request %d ended before its "
				    "params were read (aborted, timed out or "
				    "malformed)",
				    fr->requestId);
			(void)fcgi_conn_end_request(fd, (uint16_t)fr->requestId,
			    0,
			    known ? FCGI_PS_REQUEST_COMPLETE :
				    FCGI_PS_UNKNOWN_ROLE);
		}
		return 0;
	}
	if (fr->role != FCGI_ROLE_RESPONDER) {
		log_info("FastCGI role %d refused: only the responder role is "
			 "served",
		    fr->role);
		(void)fcgi_conn_end_request(fd, (uint16_t)fr->requestId, 0,
		    FCGI_PS_UNKNOWN_ROLE);
		FCGX_Free(fr, 1);
		return 0;
	}
	return 1;
}

int
worker_main(const struct conf *c, int listen_fd, struct sb_slot *slot)
{
	FCGX_Request		 fr;
	struct app		 app;
	struct req		 req;
	struct resp		 resp;
	struct stream_out	 out;
	struct fcgi_out		 octx;
	unsigned long		 served = 0;
	int64_t			 drain_until = 0;
	struct fcgi_req_extra	 extra = { NULL, 0, -1 };

	log_setup(c->log_level, c->log_format, "worker");
	if (worker_install_signals() == -1 || install_alarm() == -1) {
		log_error("worker signals: %s", strerror(errno));
		return 70;
	}
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 70;
	}
	if (fcgi_conn_init() == -1)
		return 78; /* EX_CONFIG: the master's check let it by */
	/*
	 * No listen socket for libfcgi: the worker accepts itself, and when
	 * libfcgi gives up on a connection, the accept it then tries on -1
	 * fails at once instead of taking a connection unseen.
	 */
	if (FCGX_InitRequest(&fr, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("FCGX_InitRequest failed");
		return 70;
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	app_init(&app, c);
	app.sync_db = true; /* HF_USER_FIRST: checked before a hash */
	/* Connect now so the first request doesn't pay for it. */
	(void)db_ready(&app.db);
	octx.fr = &fr;
	octx.req = &req;
	octx.slot = slot;
	out.ctx = &octx;
	out.head = fcgi_head;
	out.write = fcgi_write;
	out.flush = fcgi_flush;

	while (!worker_stop || drain_queued(listen_fd, c, &drain_until)) {
		enum stream_result	 sr;
		enum body_result	 br;
		int			 status, fd, bad;
		const char		*why = NULL;
		char			 method[16];

		atomic_store(&slot->idle_since_us, util_mono_us());
		atomic_store(&slot->state, SB_IDLE);
		if ((fd = fcgi_conn_accept(listen_fd)) == -1) {
			if (worker_stop)
				continue; /* drain what is queued, if any */
			if (errno == EINTR)
				continue;
			log_error("accept failed: %s", strerror(errno));
			break;
		}
		atomic_store(&slot->state, SB_READING);
		hold_stop_signals(true);
		spares_check(c);
		(void)alarm(WORKER_READ_TIMEOUT_S);
		if (fcgi_conn_management(fd, c->workers) == -1 ||
		    !take_request(&fr, fd)) {
			(void)alarm(0);
			hold_stop_signals(false);
			fcgi_conn_close(fd);
			continue;
		}
		bad = req_from_fcgi(&fr, &req, &extra, &why);
		log_set_request(req.request_id, req.trace_id);
		/* Over the params limit: answered without reading the body. */
		if (params_size(fr.envp) > WORKER_PARAMS_MAX)
			br = BODY_PARAMS_TOO_LARGE;
		else if (bad != 0)
			br = BODY_BAD_LENGTH; /* why says what */
		else
			br = read_body(&fr, &req, &extra);
		(void)alarm(0);
		atomic_store(&slot->progress_us, 0LL);
		atomic_store(&slot->req_start_us, util_mono_us());
		atomic_store(&slot->state, SB_BUSY);
		hold_stop_signals(false);

		if (br == BODY_PARAMS_TOO_LARGE) {
			resp_error_status(&resp, 431,
			    "request header fields too large");
			sr = STREAM_RESP;
		} else if (br == BODY_NOMEM) {
			resp_error(&resp, TERR_NOMEM, NULL);
			sr = STREAM_RESP;
		} else if (br == BODY_BAD_LENGTH) {
			resp_error_status(&resp, 400,
			    why != NULL ? why :
					  "Content-Length is not the length "
					  "of the body");
			sr = STREAM_RESP;
		} else if (br == BODY_BROKEN) {
			log_info("request body not read to its end (aborted, "
				 "timed out or malformed); no answer");
			resp.status = 499;
			sr = STREAM_DONE;
		} else if (!admit(&fr, c, &resp))
			sr = STREAM_RESP;
		else
			sr = app_handle_blocking(&app, &req, &resp, &out);
		atomic_store(&slot->handler, (int)req.match.endpoint);

		status = resp.status;
		/* FCGX_Finish_r frees the params method_str points into. */
		snprintf(method, sizeof(method), "%s", req.method_str);
		if (sr == STREAM_RESP) {
			if (send_resp(&fr, &req, &resp) == -1)
				log_info("client went away before the response "
				    "was sent");
		} else if (sr == STREAM_ABORT) {
			/*
			 * Part of a 200 is out; the only honest signal left
			 * is to cut the connection so nginx doesn't close the
			 * response as if it were complete.
			 */
			if (shutdown(fd, SHUT_RDWR) == -1)
				log_warn("shutdown: %s", strerror(errno));
		}
		/*
		 * Writes FCGI_END_REQUEST (after a broken body too: that is
		 * the answer an aborted request is owed) and closes libfcgi's
		 * copy; the connection itself is closed here, kept or not.
		 */
		fr.keepConnection = 0;
		fr.detached = 1;
		FCGX_Finish_r(&fr);
		fcgi_conn_close(fd);

		app_account(&req, method, status);

		atomic_fetch_add(&slot->requests, 1);
		atomic_store(&slot->req_start_us, 0);
		req_reset(&req);
		resp_reset(&resp);
		plan_reset(&app.plan);
		served++;
		if (c->max_requests > 0 && served >= (unsigned long)c->max_requests) {
			log_info("served %lu requests; exiting to be replaced",
			    served);
			break;
		}
	}
	atomic_store(&slot->state, SB_STOPPING);
	FCGX_Free(&fr, 1);
	app_free(&app);
	req_free(&req);
	resp_free(&resp);
	fcgi_req_extra_free(&extra);
	return 0;
}
