/*
 * h_health.c: GET /health.
 *   200 {"status":"ok","database":"ok"}
 *   503 {"status":"degraded","database":"unavailable"} + Retry-After
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

	(void)ctx; (void)r; (void)res;
	if (e == TERR_OK) {
		resp_raw(resp, 200, "application/json; charset=utf-8", ok,
		    sizeof(ok) - 1);
		return;
	}
	resp_raw(resp, 503, "application/json; charset=utf-8", bad,
	    sizeof(bad) - 1);
	resp->retry_after = 1;
}
