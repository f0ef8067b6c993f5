/*
 * h_health.c: GET /health.
 *   200 {"status":"ok","database":"ok"}
 *   503 {"status":"degraded","database":"unavailable"} + Retry-After
 */
#include "config.h"

#include <string.h>

#include "handlers.h"

enum terr
h_health_plan(struct hctx *c)
{
	c->plan->stmt = STMT_PING;
	return TERR_OK;
}

void
h_health_render(struct hctx *c)
{
	static const char ok[] = "{\"status\":\"ok\",\"database\":\"ok\"}";
	static const char bad[] =
	    "{\"status\":\"degraded\",\"database\":\"unavailable\"}";

	if (c->err == TERR_OK) {
		resp_raw(c->resp, 200, "application/json; charset=utf-8", ok,
		    sizeof(ok) - 1);
		return;
	}
	resp_raw(c->resp, 503, "application/json; charset=utf-8", bad,
	    sizeof(bad) - 1);
	c->resp->retry_after = 1;
}
