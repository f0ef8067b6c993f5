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
#include "json_out.h"
#include "jwt.h"
#include "log.h"
#include "scoreboard.h"
#include "util.h"
#include "valid.h"

const struct handler handlers[H__MAX] = {
	[H_HEALTH] = { HF_OWN_ERRORS, h_health_plan, h_health_render },
	[H_REGISTER] = { HF_BODY | HF_CPU, h_register_plan, h_register_render },
	[H_LOGIN] = { HF_BODY | HF_CPU, h_login_plan, h_login_render },
	[H_ME] = { HF_AUTH, h_me_plan, h_user_render },
	[H_USERS_LIST] = { HF_AUTH, h_users_list_plan, h_users_list_render },
	[H_USER_GET] = { HF_AUTH, h_user_get_plan, h_user_render },
	[H_USER_PATCH] = { HF_AUTH | HF_BODY | HF_CPU | HF_USER_FIRST,
	    h_user_patch_plan, h_user_patch_render },
	[H_USER_DELETE] = { HF_AUTH, h_user_delete_plan, h_user_delete_render },
	[H_TASKS_LIST] = { HF_AUTH, h_tasks_list_plan, h_tasks_list_render },
	[H_TASK_CREATE] = { HF_AUTH | HF_BODY, h_task_create_plan,
	    h_task_create_render },
	[H_TASK_GET] = { HF_AUTH, h_task_get_plan, h_task_render },
	[H_TASK_PATCH] = { HF_AUTH | HF_BODY, h_task_patch_plan,
	    h_task_render },
	[H_TASK_DELETE] = { HF_AUTH, h_task_delete_plan, h_task_delete_render },
	[H_TASKS_EXPORT] = { HF_AUTH | HF_STREAM, h_tasks_export_plan, NULL },
	[H_METRICS] = { 0, h_metrics_plan, NULL },
	[H_STATUS] = { 0, h_status_plan, NULL },
};

void
app_init(struct app *a, const struct conf *c)
{
	memset(a, 0, sizeof(*a));
	a->conf = c;
	db_init(&a->db, c->database_url, c->db_connect_timeout,
	    c->request_timeout);
}

void
app_free(struct app *a)
{
	db_close(&a->db);
	plan_free(&a->plan);
}

static struct app_ctx
app_ctx(const struct app *a)
{
	struct app_ctx	 ctx;

	ctx.conf = a->conf;
	ctx.now = (int64_t)time(NULL);
	ctx.user_checked = false;
	return ctx;
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
	const struct handler	*h;
	struct app_ctx		 ctx = app_ctx(a);
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
	h = &handlers[r->match.handler];

	if (r->body_too_large) {
		resp_error(resp, TERR_TOOLARGE, NULL);
		return false;
	}
	if (query_parse(qs, &r->query) == -1) {
		resp_error(resp, TERR_INVALID, "malformed query string");
		return false;
	}
	if ((h->flags & HF_AUTH) && (e = app_auth(a, r, ctx.now)) != TERR_OK) {
		resp_error(resp, e, "missing, invalid or expired token");
		return false;
	}
	if (h->flags & HF_BODY) {
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

	if ((h->flags & HF_USER_FIRST) && a->sync_db) {
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
	e = h->plan(&ctx, r, p, resp, err, sizeof(err));
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
	const struct handler	*h = &handlers[r->match.handler];
	struct app_ctx		 ctx = app_ctx(a);

	if (e != TERR_OK && (h->flags & HF_OWN_ERRORS) == 0) {
		resp_error(resp, e, e == TERR_UNAUTH ?
		    "missing, invalid or expired token" : NULL);
		return;
	}
	h->render(&ctx, r, res, e, resp);
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
	PGresult	*res = NULL;
	enum terr	 e;

	if (!app_begin(a, r, resp, &a->plan))
		return STREAM_RESP;
	if (handlers[r->match.handler].flags & HF_STREAM) {
		struct app_ctx	   ctx = app_ctx(a);
		enum stream_result sr;

		/*
		 * An export holds a blocking worker while it streams: one
		 * account may not hold more than APP_EXPORTS_PER_USER.
		 */
		if (!scoreboard_export_begin(scoreboard, scoreboard_self,
			r->user_id, APP_EXPORTS_PER_USER)) {
			resp_error_status(resp, 429,
			    "too many exports running "
			    "for this account; try again when one is done");
			resp->retry_after = 5;
			return STREAM_RESP;
		}
		sr =
		    h_tasks_export_stream(&ctx, r, &a->plan, &a->db, resp, out);
		scoreboard_export_end(scoreboard_self);
		return sr;
	}
	e = db_exec(&a->db, &a->plan, &res);
	app_finish(a, r, res, e, resp);
	PQclear(res);
	return STREAM_RESP;
}

/* --- helpers shared by the handlers --------------------------------- */

/*
 * The columns of USER_COLS and TASK_COLS, in order: each key is written
 * with the punctuation before it.  password_hash is never selected, so
 * it can never be rendered.
 */
struct col {
	const char *key;
	size_t	    keylen;
	bool	    time; /* a timestamptz, else text */
};
#define COL(k, t)                   \
	{                           \
		k, sizeof(k) - 1, t \
	}

static const struct col user_cols[] = {
	COL("{\"id\":", false),
	COL(",\"email\":", false),
	COL(",\"name\":", false),
	COL(",\"created_at\":", true),
	COL(",\"updated_at\":", true),
};

static const struct col task_cols[] = {
	COL("{\"id\":", false),
	COL(",\"user_id\":", false),
	COL(",\"title\":", false),
	COL(",\"description\":", false),
	COL(",\"status\":", false),
	COL(",\"priority\":", false),
	COL(",\"due_at\":", true),
	COL(",\"created_at\":", true),
	COL(",\"updated_at\":", true),
};

/* One row as a JSON object; NULL columns are null. */
static void
render_cols(struct buf *jb, const PGresult *r, int row, const struct col *cols,
    int ncols)
{
	if (PQnfields(r) < ncols) {
		jb->failed = true;
		return;
	}
	for (int i = 0; i < ncols; i++) {
		const char *v = PQgetvalue(r, row, i);
		size_t	    n = (size_t)PQgetlength(r, row, i);

		jb_raw(jb, cols[i].key, cols[i].keylen);
		if (PQgetisnull(r, row, i))
			jb_lit(jb, "null");
		else if (cols[i].time)
			jb_pgtime(jb, v, n);
		else
			jb_str(jb, v, n);
	}
	jb_lit(jb, "}");
}

void
render_user_row(struct buf *jb, const PGresult *r, int row)
{
	render_cols(jb, r, row, user_cols, 5);
}

void
render_task_row(struct buf *jb, const PGresult *r, int row)
{
	render_cols(jb, r, row, task_cols, 9);
}

/*
 * Renders a list whose rows are LEFT JOINed to the caller's row: no row
 * at all is 401, and a single row of NULLs is an empty page.
 */
void
render_list(const PGresult *res, struct resp *resp,
    void (*row_fn)(struct buf *, const PGresult *, int))
{
	struct buf  jb;
	int	    n = PQntuples(res);
	bool	    first = true;

	if (n == 0) {
		resp_error(resp, TERR_UNAUTH, NULL);
		return;
	}
	jb_begin(&jb, resp);
	jb_lit(&jb, "[");
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 0))
			continue;
		if (!first)
			jb_lit(&jb, ",");
		first = false;
		row_fn(&jb, res, i);
	}
	jb_lit(&jb, "]");
	jb_end(&jb, resp, 200);
}

void
render_one(const PGresult *res, struct resp *resp, int status,
    const char *notfound, void (*row_fn)(struct buf *, const PGresult *, int))
{
	struct buf jb;

	if (PQntuples(res) == 0) {
		resp_error(resp, TERR_UNAUTH, NULL);
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		resp_error(resp, TERR_NOTFOUND, notfound);
		return;
	}
	jb_begin(&jb, resp);
	row_fn(&jb, res, 0);
	jb_end(&jb, resp, status);
}

static enum terr
hq_int(const struct req *r, const char *key, long long def, long long min,
    long long max, long long *out, char *err, size_t errsz)
{
	const char	*v;
	int		 n;

	*out = def;
	v = query_get(&r->query, key, &n);
	if (n == 0)
		return TERR_OK;
	if (n > 1) {
		snprintf(err, errsz, "%s must be given at most once", key);
		return TERR_INVALID;
	}
	if (!util_parse_int(v, min, max, out)) {
		snprintf(err, errsz, "%s must be an integer from %lld to %lld",
		    key, min, max);
		return TERR_INVALID;
	}
	return TERR_OK;
}

enum terr
hq_paging(const struct req *r, long long *limit, long long *offset,
    char *err, size_t errsz)
{
	enum terr	 e;

	e = hq_int(r, "limit", LIM_PAGE_LIMIT_DEFAULT, LIM_PAGE_LIMIT_MIN,
	    LIM_PAGE_LIMIT_MAX, limit, err, errsz);
	if (e == TERR_OK)
		e = hq_int(r, "offset", 0, 0, LIM_PAGE_OFFSET_MAX, offset, err,
		    errsz);
	return e;
}

enum terr
hq_enum(const struct req *r, const char *key, const char *const *vals,
    const char **out, char *err, size_t errsz)
{
	const char	*v;
	int		 n;

	*out = NULL;
	v = query_get(&r->query, key, &n);
	if (n == 0)
		return TERR_OK;
	if (n == 1)
		for (const char *const *e = vals; *e != NULL; e++)
			if (strcmp(*e, v) == 0) {
				*out = *e;
				return TERR_OK;
			}
	snprintf(err, errsz, "%s must be given once, as one of:", key);
	for (const char *const *e = vals; *e != NULL; e++) {
		size_t off = strlen(err);
		snprintf(err + off, errsz - off, "%s %s", e == vals ? "" : ",",
		    *e);
	}
	return TERR_INVALID;
}
