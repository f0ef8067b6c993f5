/*
 * h_ops.c: the operators' pages, built from the shared scoreboard.
 *   GET /metrics  Prometheus text exposition (version 0.0.4)
 *   GET /status   the pool, php-fpm's status page as JSON
 * No database: a worker answers these even while PostgreSQL is down.
 * nginx/taskapi.conf lets only its allow list (loopback) reach them.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "handlers.h"
#include "metrics.h"
#include "scoreboard.h"
#include "util.h"

static enum terr
answer(struct resp *resp, const char *ctype, char *body, size_t len)
{
	if (body == NULL)
		return TERR_NOMEM;
	resp_raw(resp, 200, ctype, body, len);
	free(body);
	return TERR_OK;
}

enum terr
h_metrics_plan(struct hctx *c)
{
	struct plan *p = c->plan;
	struct resp *resp = c->resp;
	size_t	 len = 0;
	char	*body;

	p->stmt = STMT_NONE;
	if (scoreboard == NULL)
		return TERR_INTERNAL;
	body = metrics_render_prometheus(scoreboard, &len);
	return answer(resp, "text/plain; version=0.0.4; charset=utf-8", body,
	    len);
}

enum terr
h_status_plan(struct hctx *c)
{
	struct plan *p = c->plan;
	struct resp *resp = c->resp;
	size_t	 len = 0;
	char	*body;

	p->stmt = STMT_NONE;
	if (scoreboard == NULL)
		return TERR_INTERNAL;
	/* Rendered first: the body's length is known only afterwards. */
	body = metrics_render_status(scoreboard, util_mono_us(), c->now, &len);
	return answer(resp, "application/json; charset=utf-8", body, len);
}
