/*
 * h_users.c: /api/v1/me and /api/v1/users[/{id}].
 *
 * Any signed-in user may read users; only the owner may change or
 * delete an account (403 otherwise, also for ids that do not exist, so
 * nothing can be learnt from it).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "api_limits.h"
#include "etag.h"
#include "handlers.h"
#include "hquery.h"
#include "list_query.h"
#include "password.h"
#include "render.h"
#include "valid.h"

/* GET /api/v1/me: 200 user; 401. */
enum terr
h_me_plan(struct hctx *c)
{
	c->plan->stmt = STMT_USER_ME;
	plan_param(c->plan, c->req->user_id);
	return etag_plan_read(c->req, c->msg, c->msgsz);
}

/* GET /api/v1/users/{id}: 200 user; 400 bad id; 401; 404. */
enum terr
h_user_get_plan(struct hctx *c)
{
	c->plan->stmt = STMT_USER_GET;
	plan_param(c->plan, c->req->user_id);
	plan_param(c->plan, c->req->match.id);
	return etag_plan_read(c->req, c->msg, c->msgsz);
}

/* Renders USER_ME/USER_GET: no row 401, a row of NULLs 404. */
void
h_user_render(struct hctx *c)
{
	render_one(c->res, c->resp, 200, "user not found", render_user_row);
	/* Column 5 is the version: the user's ETag. */
	if (c->req->method == METHOD_GET)
		etag_finish_read(c->req, c->res, 5, c->resp);
	else if (c->resp->status == 200)
		etag_set(c->resp, etag_version(c->res, 0, 5));
}

/* GET /api/v1/users: 200 array, newest first, Link; 400 paging; 401. */
enum terr
h_users_list_plan(struct hctx *c)
{
	struct list_query lq;
	enum terr	  e;

	if ((e = list_parse(c->conf, c->req, 'U', &lq, c->msg, c->msgsz)) !=
	    TERR_OK)
		return e;
	return list_plan(&lq, c->req, c->plan);
}

void
h_users_list_render(struct hctx *c)
{
	struct list_query lq;
	char		  err[256];

	/* The plan parsed the same request without an error. */
	if (list_parse(c->conf, c->req, 'U', &lq, err, sizeof(err)) !=
	    TERR_OK) {
		resp_error(c->resp, TERR_INTERNAL, NULL);
		return;
	}
	list_render(&lq, c->res, c->resp, render_user_row);
}

static bool
is_self(const struct req *r)
{
	return strcmp(r->user_id, r->match.id) == 0;
}

static const struct vfield user_patch_fields[] = {
	{ "name", VK_TEXT, VF_TRIM, LIM_NAME_MIN, LIM_NAME_MAX, NULL },
	{ "email", VK_EMAIL, 0, 3, LIM_EMAIL_MAX, NULL },
	{ "password", VK_TEXT, 0, LIM_PASSWORD_MIN, LIM_PASSWORD_MAX, NULL },
};

#define USER_CHANGED_MSG                                               \
	"the user has changed since the version you sent in If-Match " \
	"(or If-None-Match matched it); its current ETag is in the ETag header"

/*
 * PATCH /api/v1/users/{id}: 200 user + ETag; 400; 401; 403 not
 * yourself; 409 e-mail taken; 412 If-Match no longer matches; 428
 * without If-Match when it is required.  For another id the plan only
 * checks that the caller still exists (401 before 403): the
 * preconditions are only about an account one may change.
 */
enum terr
h_user_patch_plan(struct hctx *c)
{
	struct req	*r = c->req;
	struct plan	*p = c->plan;
	struct vvalue	 v[3];
	enum terr	 e;

	if (!is_self(r)) {
		p->stmt = STMT_USER_EXISTS;
		plan_param(p, r->user_id);
		return TERR_OK;
	}
	if ((e = valid_fields(r->json, user_patch_fields, 3, v, c->msg,
		 c->msgsz)) != TERR_OK)
		return e;
	p->stmt = STMT_USER_UPDATE;
	plan_param(p, r->user_id);
	plan_param(p, v[0].present ? "t" : "f");
	if (v[0].present)
		e = plan_param_copy(p, v[0].str, v[0].len);
	else
		plan_param(p, NULL);
	plan_param(p, v[1].present ? "t" : "f");
	if (e == TERR_OK && v[1].present)
		e = plan_param_copy(p, v[1].str, v[1].len);
	else
		plan_param(p, NULL);
	plan_param(p, v[2].present ? "t" : "f");
	if (e == TERR_OK && v[2].present) {
		char	 hash[PASSWORD_HASH_MAX];

		/*
		 * Only the blocking loop checks the caller first; a loop
		 * that cannot (the event worker, reached past nginx's
		 * routing) must not hash in its event loop either.
		 */
		if (!c->user_checked) {
			plan_reset(p);
			snprintf(c->msg, c->msgsz,
			    "password changes are served by "
			    "the blocking pool");
			return TERR_INTERNAL;
		}

		if (password_hash(v[2].str, v[2].len, hash) == -1)
			return TERR_NOMEM;
		e = plan_param_copy(p, hash, strlen(hash));
	} else
		plan_param(p, NULL);
	if (e != TERR_OK)
		return e;
	return etag_plan_write(r, c->conf != NULL && c->conf->require_if_match,
	    p, c->msg, c->msgsz);
}

void
h_user_patch_render(struct hctx *c)
{
	if (PQntuples(c->res) == 0) {
		resp_error(c->resp, TERR_UNAUTH, NULL);
		return;
	}
	if (!is_self(c->req)) {
		resp_error(c->resp, TERR_FORBIDDEN, NULL);
		return;
	}
	/* Column 5 is the version, 6 whether the preconditions held. */
	if (etag_finish_write(c->res, 5, 6, USER_CHANGED_MSG, c->resp))
		return;
	h_user_render(c);
}

/*
 * DELETE /api/v1/users/{id}: 204 (tasks go too); 401; 403; 412 If-Match
 * no longer matches; 428 without If-Match when it is required.
 */
enum terr
h_user_delete_plan(struct hctx *c)
{
	if (!is_self(c->req)) {
		c->plan->stmt = STMT_USER_EXISTS;
		plan_param(c->plan, c->req->user_id);
		return TERR_OK;
	}
	c->plan->stmt = STMT_USER_DELETE;
	plan_param(c->plan, c->req->user_id);
	return etag_plan_write(c->req,
	    c->conf != NULL && c->conf->require_if_match, c->plan, c->msg,
	    c->msgsz);
}

void
h_user_delete_render(struct hctx *c)
{
	if (PQntuples(c->res) == 0)
		resp_error(c->resp, TERR_UNAUTH, NULL);
	else if (!is_self(c->req))
		resp_error(c->resp, TERR_FORBIDDEN, NULL);
	else if (!etag_finish_write(c->res, 1, 2, USER_CHANGED_MSG, c->resp))
		resp_empty(c->resp, 204);
}
