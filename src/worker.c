/*
 * worker.c: the libfcgi request loop.
 *
 * FCGX_Accept_r blocks in accept(2) on the shared socket; the kernel
 * hands each connection to one idle worker.  The stop signal is
 * installed without SA_RESTART and the request opened with
 * FCGI_FAIL_ACCEPT_ON_INTR, so a signal makes accept return and the
 * loop end; a signal during a request only ends the loop after it.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <sodium.h>

#include "api_limits.h"
#include "app.h"
#include "fcgi_params.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "scoreboard.h"
#include "util.h"
#include "worker.h"

/*
 * Reads the body: at most LIM_BODY_MAX bytes are kept; a longer body
 * (or a CONTENT_LENGTH that says so) marks the request too large
 * without reading the rest.  Chunked uploads arrive without a length
 * and are read to their end under the same cap.
 */
static int
read_body(FCGX_Request *fr, struct req *r, const struct fcgi_req_extra *x,
    const char **why)
{
	unsigned long long total = 0;

	if (r->body_too_large || x->content_length == 0)
		return 0;
	for (;;) {
		char	*dst;
		int	 n;

		if ((dst = req_body_reserve(r, 8192)) == NULL)
			return -1;
		n = FCGX_GetStr(dst, 8192, fr->in);
		if (n < 0)
			return -1;
		total += (unsigned long long)n;
		if (r->body_len + (size_t)n > LIM_BODY_MAX) {
			r->body_too_large = true;
			return 0;
		}
		r->body_len += (size_t)n;
		if (n < 8192)
			break;
	}
	r->body[r->body_len] = '\0';
	return fcgi_body_check(x, total, why) == 0 ? 0 : 400;
}

/* What the streaming callbacks write to. */
struct fcgi_out {
	FCGX_Request	*fr;
	struct req	*req;
};

static int
fcgi_head(void *ctx, const struct resp *resp)
{
	struct fcgi_out	*o = ctx;
	char		 head[1024];
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

	return FCGX_FFlush(o->fr->out) == 0 ? 0 : -1;
}

/* Writes a complete buffered response; returns 0 or -1. */
static int
send_resp(FCGX_Request *fr, const struct req *r, const struct resp *resp)
{
	char	 head[1024];
	size_t	 n;

	n = resp_head(resp, r->request_id, r->traceresponse, head,
	    sizeof(head));
	if (n == 0)
		return -1;
	if (FCGX_PutStr(head, (int)n, fr->out) != (int)n)
		return -1;
	if (resp->len > 0 && FCGX_PutStr(resp->body, (int)resp->len,
	    fr->out) != (int)resp->len)
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
	struct fcgi_req_extra	 extra = { NULL, 0, -1 };

	log_setup(c->log_level, c->log_format, "worker");
	if (worker_install_signals() == -1) {
		log_error("worker signals: %s", strerror(errno));
		return 70;
	}
	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 70;
	}
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("FCGX_InitRequest failed");
		return 70;
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	app_init(&app, c);
	/* Connect now so the first request doesn't pay for it. */
	(void)db_ready(&app.db);
	octx.fr = &fr;
	octx.req = &req;
	out.ctx = &octx;
	out.head = fcgi_head;
	out.write = fcgi_write;
	out.flush = fcgi_flush;

	while (!worker_stop) {
		enum stream_result	 sr;
		int			 status, bad;
		const char		*why = NULL;
		char			 method[16];

		atomic_store(&slot->idle_since_us, util_mono_us());
		atomic_store(&slot->state, SB_IDLE);
		if (FCGX_Accept_r(&fr) < 0) {
			if (worker_stop)
				break;
			if (errno == EINTR)
				continue;
			log_error("accept failed: %s", strerror(errno));
			break;
		}
		atomic_store(&slot->req_start_us, util_mono_us());
		atomic_store(&slot->state, SB_BUSY);
		spares_check(c);

		bad = req_from_fcgi(&fr, &req, &extra, &why);
		log_set_request(req.request_id, req.trace_id);
		if (bad == 0)
			bad = read_body(&fr, &req, &extra, &why);
		if (bad == -1) {
			resp_error(&resp, TERR_NOMEM, NULL);
			sr = STREAM_RESP;
		} else if (bad != 0) {
			resp_error_status(&resp, bad, why);
			sr = STREAM_RESP;
		} else
			sr = app_handle_blocking(&app, &req, &resp, &out);
		atomic_store(&slot->handler, (int)req.match.handler);

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
			if (shutdown(fr.ipcFd, SHUT_RDWR) == -1)
				log_warn("shutdown: %s", strerror(errno));
		}
		FCGX_Finish_r(&fr);

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
