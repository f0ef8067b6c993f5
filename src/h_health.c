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
h_health_plan(const struct app_ctx *ctx, struct req *r, struct plan *p,
    struct resp *resp, char *err, size_t errsz)
{
	(void)ctx; (void)r; (void)resp; (void)err; (void)errsz;
	p->stmt = STMT_PING;
	return TERR_OK;
}

void
h_health_render(const struct app_ctx *ctx, struct req *r, const PGresult *res,
    enum terr e, struct resp *resp)
{
	static const char ok[] = "{\"status\":\"ok\",\"database\":\"ok\"}";
	static const char bad[] =
	    "{\"status\":\"degraded\",\"database\":\"unavailable\"}";
	static const char ro[] =
	    "{\"status\":\"degraded\",\"database\":\"read-only\"}";

	(void)ctx;
	(void)r;
	/* The ping answers whether the session cannot write (db.c). */
	if (e == TERR_OK && res != NULL && PQntuples(res) == 1 &&
	    strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		resp_raw(resp, 503, "application/json; charset=utf-8", ro,
		    sizeof(ro) - 1);
		resp->retry_after = 1;
		return;
	}
	if (e == TERR_OK) {
		resp_raw(resp, 200, "application/json; charset=utf-8", ok,
		    sizeof(ok) - 1);
		return;
	}
	resp_raw(resp, 503, "application/json; charset=utf-8", bad,
	    sizeof(bad) - 1);
	resp->retry_after = 1;
}
