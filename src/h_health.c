/*
 * h_health.c: GET /health.
 *   200 {"status":"ok","database":"ok"}
 *   503 {"status":"degraded","database":"unavailable"} + Retry-After
 *   503 {"status":"degraded","database":"read-only"} + Retry-After: the
 *       database answers but cannot take writes (a standby, or a primary
 *       that was demoted); a load balancer treats both 503s alike, an
 *       operator looks for a failover in the second.
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
	static const char ro[] =
	    "{\"status\":\"degraded\",\"database\":\"read-only\"}";

	/* The ping answers whether the session cannot write (db.c). */
	if (c->err == TERR_OK && c->res != NULL && PQntuples(c->res) == 1 &&
	    strcmp(PQgetvalue(c->res, 0, 0), "t") == 0) {
		resp_raw(c->resp, 503, "application/json; charset=utf-8", ro,
		    sizeof(ro) - 1);
		c->resp->retry_after = 1;
		return;
	}
	if (c->err == TERR_OK) {
		resp_raw(c->resp, 200, "application/json; charset=utf-8", ok,
		    sizeof(ok) - 1);
		return;
	}
	resp_raw(c->resp, 503, "application/json; charset=utf-8", bad,
	    sizeof(bad) - 1);
	c->resp->retry_after = 1;
}
