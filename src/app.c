/*
 * app.c: the request pipeline, in the order every request meets it:
 * route, method, id, query string, token, body, plan; then render.
 * Each step that fails answers through resp_error() and stops there.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "app.h"
#include "counters.h"
#include "endpoints.h"
#include "jwt.h"
#include "log.h"
#include "scoreboard.h"
#include "util.h"
#include "valid.h"

void
app_init(struct app *a, const struct conf *c)
{
	memset(a, 0, sizeof(*a));
	a->conf = c;
	db_init(&a->db, c->database_url, c->db_connect_timeout,
	    c->db_commit_timeout);
	a->db.async_dns = true; /* a worker's: see db.h */
}

void
app_free(struct app *a)
{
	db_close(&a->db);
	plan_free(&a->plan);
}

/* A handler call's context for r: the world, the request, its answer. */
static struct hctx
app_hctx(const struct app *a, struct req *r, struct plan *p, struct resp *resp)
{
	struct hctx c;

	memset(&c, 0, sizeof(c));
	c.conf = a->conf;
	c.now = (int64_t)time(NULL);
	c.req = r;
	c.plan = p;
	c.resp = resp;
	return c;
}

/*
 * Tokens this process verified lately.  Clients send the same token with
 * every request; a hit skips the base64, HMAC and JSON of jwt_verify().
 * The key is a BLAKE2b digest of the whole token, compared in full, so
 * only a byte-identical token that passed before can hit; exp is checked
 * on every hit.  A new secret comes with new processes (SIGHUP replaces
 * the workers), so the cache never outlives the key that filled it.  The
 * user's existence is still checked by every statement.
 */
#define AUTH_CACHE_SLOTS	128

/* Exports one account may stream at once (each holds a blocking worker). */
#define APP_EXPORTS_PER_USER 2

struct auth_cache_entry {
	unsigned char	 digest[crypto_generichash_BYTES];
	int64_t		 exp;
	char		 sub[LIM_UUID_LEN + 1];
};

static struct auth_cache_entry	 auth_cache[AUTH_CACHE_SLOTS];

static struct auth_cache_entry *
auth_cache_slot(const char *tok, size_t len, unsigned char *digest)
{
	uint32_t	 h;

	crypto_generichash(digest, crypto_generichash_BYTES,
	    (const unsigned char *)tok, len, NULL, 0);
	memcpy(&h, digest, sizeof(h));
	return &auth_cache[h % AUTH_CACHE_SLOTS];
}

/*
 * Checks "Authorization: Bearer <jwt>" and sets req->user_id.  Why a
 * token failed goes to the log (at info), never to the client.
 */
static enum terr
app_auth(const struct app *a, struct req *r, int64_t now)
{
	const char	*h = r->authorization, *tok;
	size_t		 len;
	enum jwt_status	 st;
	unsigned char	 digest[crypto_generichash_BYTES];
	struct auth_cache_entry *slot;
	int64_t		 exp;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return TERR_UNAUTH;
	tok = h + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (len == 0 || len > LIM_TOKEN_MAX)
		return TERR_UNAUTH;
	slot = auth_cache_slot(tok, len, digest);
	if (slot->exp > now && sodium_memcmp(slot->digest, digest,
	    sizeof(digest)) == 0) {
		memcpy(r->user_id, slot->sub, sizeof(r->user_id));
		return TERR_OK;
	}
	st = jwt_verify_exp(a->conf->jwt_secret, a->conf->jwt_secret_len, tok,
	    len, now, r->user_id, sizeof(r->user_id), &exp);
	if (st != JWT_OK) {
		r->user_id[0] = '\0';
		log_info("token rejected: %s", jwt_status_str(st));
		return TERR_UNAUTH;
	}
	memcpy(slot->digest, digest, sizeof(digest));
	memcpy(slot->sub, r->user_id, sizeof(slot->sub));
	slot->exp = exp;
	return TERR_OK;
}

/*
 * The token's user still exists (TERR_OK), is gone (TERR_UNAUTH), or the
 * database could not say.  Run before a plan that hashes a password, so
 * that a deleted user's unexpired token costs a lookup, not a hash.
 */
static enum terr
app_user_exists(struct app *a, struct req *r, struct plan *p)
{
	PGresult *res = NULL;
	enum terr e;

	plan_reset(p);
	p->stmt = STMT_USER_EXISTS;
	plan_param(p, r->user_id);
	e = db_exec(&a->db, p, &res);
	if (e == TERR_OK && PQntuples(res) == 0)
		e = TERR_UNAUTH;
	PQclear(res);
	plan_reset(p);
	return e;
}

bool
app_begin(struct app *a, struct req *r, struct resp *resp, struct plan *p)
{
	const char		*q, *qs = NULL;
	size_t			 plen;
	const struct endpoint	*ep;
	struct hctx		 ctx = app_hctx(a, r, p, resp);
	char			 err[256];
	enum terr		 e;

	q = strchr(r->uri, '?');
	plen = q != NULL ? (size_t)(q - r->uri) : strlen(r->uri);
	if (q != NULL)
		qs = q + 1;

	switch (router_match((int)r->method, r->uri, plen, &r->match)) {
	case ROUTER_OK:
		break;
	case ROUTER_NOTFOUND:
		r->match.route = ROUTE__MAX;
		resp_error_status(resp, 404, "no such resource");
		return false;
	case ROUTER_BADMETHOD:
		resp_error_status(resp, 405, "method not allowed");
		router_allow_header(r->match.allow, resp->allow,
		    sizeof(resp->allow));
		return false;
	case ROUTER_BADID:
		resp_error(resp, TERR_INVALID, "id must be a lower-case UUID");
		return false;
	}
	ep = &endpoints[r->match.endpoint];

	if (r->body_too_large) {
		resp_error(resp, TERR_TOOLARGE, NULL);
		return false;
	}
	if (query_parse(qs, &r->query) == -1) {
		resp_error(resp, TERR_INVALID, "malformed query string");
		return false;
	}
	if ((ep->flags & HF_AUTH) && (e = app_auth(a, r, ctx.now)) != TERR_OK) {
		resp_error(resp, e, "missing, invalid or expired token");
		return false;
	}
	if (ep->flags & HF_BODY) {
		if (r->body.len > 0 &&
		    !valid_json_content_type(r->content_type)) {
			resp_error(resp, TERR_MEDIATYPE, NULL);
			return false;
		}
		err[0] = '\0';
		e = valid_parse_body(r->body.p, r->body.len, &r->json, err,
		    sizeof(err));
		if (e != TERR_OK) {
			resp_error(resp, e, err[0] != '\0' ? err : NULL);
			return false;
		}
	}

	if ((ep->flags & HF_USER_FIRST) && a->sync_db) {
		if ((e = app_user_exists(a, r, p)) != TERR_OK) {
			resp_error(resp, e,
			    e == TERR_UNAUTH ?
				"missing, invalid or expired token" :
				NULL);
			return false;
		}
		ctx.user_checked = true;
	}
	plan_reset(p);
	/* Every copied parameter comes from the body, or is small. */
	if (plan_reserve(p, r->body.len + 1024) != TERR_OK) {
		resp_error(resp, TERR_NOMEM, NULL);
		return false;
	}
	err[0] = '\0';
	ctx.msg = err;
	ctx.msgsz = sizeof(err);
	e = ep->plan(&ctx);
	if (e != TERR_OK) {
		resp_error(resp, e, err[0] != '\0' ? err : NULL);
		return false;
	}
	return p->stmt != STMT_NONE;
}

void
app_finish(struct app *a, struct req *r, const PGresult *res, enum terr e,
    struct resp *resp)
{
	const struct endpoint *ep = &endpoints[r->match.endpoint];
	struct hctx	       ctx = app_hctx(a, r, NULL, resp);

	if (e != TERR_OK && (ep->flags & HF_OWN_ERRORS) == 0) {
		resp_error(resp, e, e == TERR_UNAUTH ?
		    "missing, invalid or expired token" : NULL);
		return;
	}
	ctx.res = res;
	ctx.err = e;
	ep->render(&ctx);
}

void
app_account(const struct req *r, const char *method, int status)
{
	struct log_access la = {
		.method = method != NULL ? method : "-",
		.route = router_pattern(r->match.route),
		.status = status,
		.duration_us = util_mono_us() - r->start_us,
		.user_id = r->user_id,
	};

	log_set_request(r->request_id, r->trace_id);
	log_access(&la);
	log_set_request(NULL, NULL);
	metrics_observe((unsigned)r->match.route, status, la.duration_us);
}

enum stream_result
app_handle_blocking(struct app *a, struct req *r, struct resp *resp,
    const struct stream_out *out)
{
	PGresult	      *res = NULL;
	enum terr	       e;
	const struct endpoint *ep;

	if (!app_begin(a, r, resp, &a->plan))
		return STREAM_RESP;
	ep = &endpoints[r->match.endpoint];
	if (ep->stream != NULL) {
		struct hctx	   ctx = app_hctx(a, r, &a->plan, resp);
		enum stream_result sr;

		/*
		 * A stream (the export) holds a blocking worker while it
		 * runs: one account may not hold more than
		 * APP_EXPORTS_PER_USER.
		 */
		if (!scoreboard_export_begin(scoreboard, scoreboard_self,
			r->user_id, APP_EXPORTS_PER_USER)) {
			resp_error_status(resp, 429,
			    "too many exports running "
			    "for this account; try again when one is done");
			resp->retry_after = 5;
			return STREAM_RESP;
		}
		sr = ep->stream(&ctx, &a->db, out);
		scoreboard_export_end(scoreboard_self);
		return sr;
	}
	e = db_exec(&a->db, &a->plan, &res);
	app_finish(a, r, res, e, resp);
	PQclear(res);
	return STREAM_RESP;
}
