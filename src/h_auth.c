/*
 * h_auth.c: POST /api/v1/auth/register and POST /api/v1/auth/login.
 * Both hash or verify a password (Argon2id), so both are CPU-bound.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "api_limits.h"
#include "etag.h"
#include "handlers.h"
#include "idempotency.h"
#include "json_out.h"
#include "jwt.h"
#include "log.h"
#include "password.h"
#include "render.h"
#include "valid.h"

static const struct vfield register_fields[] = {
	{ "email", VK_EMAIL, VF_REQUIRED, 3, LIM_EMAIL_MAX, NULL },
	{ "name", VK_TEXT, VF_REQUIRED | VF_TRIM, LIM_NAME_MIN, LIM_NAME_MAX,
	    NULL },
	{ "password", VK_TEXT, VF_REQUIRED, LIM_PASSWORD_MIN,
	    LIM_PASSWORD_MAX, NULL },
};

/*
 * 201 user + Location; 400 a rule broken; 409 e-mail taken (from the
 * unique index, mapped by db_result_error).
 */
enum terr
h_register_plan(struct hctx *c)
{
	struct req	*r = c->req;
	struct plan	*p = c->plan;
	struct vvalue	 v[3];
	char		 hash[PASSWORD_HASH_MAX];
	enum terr	 e;
	bool		 keyed;

	e = valid_fields(r->json, register_fields, 3, v, c->msg, c->msgsz);
	if (e != TERR_OK)
		return e;
	if (password_hash(v[2].str, v[2].len, hash) == -1)
		return TERR_NOMEM;
	p->stmt = STMT_USER_INSERT;
	if ((e = plan_param_copy(p, v[0].str, v[0].len)) != TERR_OK ||
	    (e = plan_param_copy(p, v[1].str, v[1].len)) != TERR_OK ||
	    (e = plan_param_copy(p, hash, strlen(hash))) != TERR_OK ||
	    (e = idem_plan(c->conf, r, p, &keyed, c->msg, c->msgsz)) != TERR_OK)
		return e;
	if (keyed)
		p->stmt = STMT_USER_INSERT_KEYED;
	return TERR_OK;
}

void
h_register_render(struct hctx *c)
{
	struct req     *r = c->req;
	struct resp    *resp = c->resp;
	const PGresult *res = c->res;
	struct buf	jb;

	if (idem_finish(res, 6, resp))
		return;
	if (PQntuples(res) != 1 || PQgetlength(res, 0, 0) != LIM_UUID_LEN) {
		resp_error(resp, TERR_INTERNAL, NULL);
		return;
	}
	jb_begin(&jb, resp);
	render_user_row(&jb, res, 0);
	jb_end(&jb, resp, 201);
	if (resp->status != 201)
		return;
	snprintf(resp->location, sizeof(resp->location), "/api/v1/users/%s",
	    PQgetvalue(res, 0, 0));
	etag_set(resp, etag_version(res, 0, 5));
	memcpy(r->user_id, PQgetvalue(res, 0, 0), LIM_UUID_LEN);
	r->user_id[LIM_UUID_LEN] = '\0';
}

/* Login checks only that both are strings of sane size: anything else is 401. */
static const struct vfield login_fields[] = {
	{ "email", VK_TEXT, VF_REQUIRED, 1, LIM_EMAIL_MAX, NULL },
	{ "password", VK_TEXT, VF_REQUIRED, 1, LIM_PASSWORD_MAX, NULL },
};

/* 200 token; 400 fields missing or of the wrong type; 401 bad login. */
enum terr
h_login_plan(struct hctx *c)
{
	struct req	*r = c->req;
	struct plan	*p = c->plan;
	struct vvalue	 v[2];
	enum terr	 e;

	e = valid_fields(r->json, login_fields, 2, v, c->msg, c->msgsz);
	if (e != TERR_OK)
		return e;
	p->stmt = STMT_USER_BY_EMAIL;
	return plan_param_copy(p, v[0].str, v[0].len);
}

void
h_login_render(struct hctx *c)
{
	struct req		*r = c->req;
	struct resp		*resp = c->resp;
	const PGresult		*res = c->res;
	struct json_object	*pw, *o;
	const char		*pws;
	size_t			 pwlen;
	char			 token[LIM_TOKEN_MAX];

	/* The plan validated it: a string is there. */
	if (!json_object_object_get_ex(r->json, "password", &pw)) {
		resp_error(resp, TERR_INTERNAL, NULL);
		return;
	}
	pws = json_object_get_string(pw);
	pwlen = (size_t)json_object_get_string_len(pw);
	if (PQntuples(res) != 1) {
		/* Same work, same answer: no user enumeration by timing. */
		password_verify_dummy(pws, pwlen);
		resp_error(resp, TERR_UNAUTH, "invalid email or password");
		return;
	}
	if (!password_verify(PQgetvalue(res, 0, 1), pws, pwlen)) {
		resp_error(resp, TERR_UNAUTH, "invalid email or password");
		return;
	}
	if (jwt_sign(c->conf->jwt_secret, c->conf->jwt_secret_len,
		PQgetvalue(res, 0, 0), c->now, c->now + c->conf->jwt_ttl, token,
		sizeof(token)) == -1 ||
	    (o = json_object_new_object()) == NULL) {
		resp_error(resp, TERR_INTERNAL, NULL);
		return;
	}
	memcpy(r->user_id, PQgetvalue(res, 0, 0), LIM_UUID_LEN);
	r->user_id[LIM_UUID_LEN] = '\0';
	json_object_object_add(o, "token", json_object_new_string(token));
	json_object_object_add(o, "token_type",
	    json_object_new_string("Bearer"));
	json_object_object_add(o, "expires_in",
	    json_object_new_int64(c->conf->jwt_ttl));
	resp_json(resp, 200, o);
	json_object_put(o);
	sodium_memzero(token, sizeof(token));
}
