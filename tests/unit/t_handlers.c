/*
 * t_handlers.c: the plan and render halves of the handlers, with no
 * database: plans are checked for their statement and parameters, and
 * renders are fed PGresults built on the client with PQsetvalue().
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "handlers.h"
#include "jwt.h"
#include "password.h"
#include "response.h"
#include "valid.h"

#define ME	"0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7b"
#define OTHER	"1c7f4b1f-9d3e-4a6f-8b2c-3d4e5f6a7b8c"
#define TASK	"2d8a5c2a-ae4f-4b7a-9c3d-4e5f6a7b8c9d"
/* As PostgreSQL writes a timestamptz (DateStyle ISO, TimeZone UTC). */
#define TS     "2026-11-21 09:30:00.1234+00"
#define TS_API "2026-11-21T09:30:00.123400Z" /* as the API answers it */

static struct conf	 conf;
static struct hctx	 ctx; /* the world: conf, clock */

struct fixture {
	struct req	 req;
	struct plan	 plan;
	struct resp	 resp;
	char		 err[256];
};

static int
setup(void **state)
{
	static struct fixture	 f;
	static unsigned char	 secret[] = "0123456789abcdef0123456789abcdef";

	memset(&f, 0, sizeof(f));
	conf.jwt_secret = secret;
	conf.jwt_secret_len = sizeof(secret) - 1;
	conf.jwt_ttl = 3600;
	ctx.conf = &conf;
	ctx.now = 1795253400;
	memcpy(f.req.user_id, ME, sizeof(ME));
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	req_free(&f->req);
	plan_free(&f->plan);
	resp_free(&f->resp);
	return 0;
}

/* Runs a plan on the fixture's request, with world's conf and clock. */
static enum terr
plan(struct fixture *f, plan_fn fn, const struct hctx *world)
{
	struct hctx c = *world;

	c.req = &f->req;
	c.plan = &f->plan;
	c.resp = &f->resp;
	c.msg = f->err;
	c.msgsz = sizeof(f->err);
	return fn(&c);
}

/* Renders res (or the error e) into the fixture's response. */
static void
render(struct fixture *f, render_fn fn, const PGresult *res, enum terr e)
{
	struct hctx c = ctx;

	c.req = &f->req;
	c.resp = &f->resp;
	c.res = res;
	c.err = e;
	fn(&c);
}

static void
with_body(struct fixture *f, const char *body)
{
	char	 err[256];

	assert_int_equal(valid_parse_body(body, strlen(body), &f->req.json,
	    err, sizeof(err)), TERR_OK);
}

static void
param_is(const struct plan *p, int i, const char *want)
{
	assert_true(i < p->nparams);
	if (want == NULL)
		assert_null(p->values[i]);
	else {
		assert_non_null(p->values[i]);
		assert_string_equal(p->values[i], want);
	}
}

/* A result with the given column names and rows (NULL cells allowed). */
static PGresult *
make_result(int ncols, const char *const *names, int nrows,
    const char *const *cells)
{
	PGresAttDesc	 attrs[16];
	PGresult	*r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	assert_non_null(r);
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < ncols; i++) {
		attrs[i].name = (char *)(uintptr_t)names[i];
		attrs[i].typid = 25;	/* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_int_equal(PQsetResultAttrs(r, ncols, attrs), 1);
	for (int row = 0; row < nrows; row++)
		for (int c = 0; c < ncols; c++) {
			const char *v = cells[row * ncols + c];
			assert_int_equal(PQsetvalue(r, row, c, (char *)(uintptr_t)v,
			    v == NULL ? -1 : (int)strlen(v)), 1);
		}
	return r;
}

static const char *const task_cols[] = { "id", "user_id", "title",
	"description", "status", "priority", "due_at", "created_at",
	"updated_at" };

static PGresult *
task_result(int nrows, bool nulls)
{
	const char *full[] = { TASK, ME, "t", NULL, "todo", "high", NULL, TS, TS };
	const char *none[9] = { NULL };

	return make_result(9, task_cols, nrows, nulls ? none : full);
}

static struct json_object *
resp_obj(const struct resp *r)
{
	struct json_object *o = json_tokener_parse(r->body.p);

	assert_non_null(o);
	return o;
}

static void
test_task_create_plan(void **state)
{
	struct fixture	*f = *state;

	with_body(f, "{\"title\":\"  ab \",\"due_at\":\"2026-11-21T10:30:00+01:00\","
	    "\"status\":\"done\"}");
	assert_int_equal(plan(f, h_task_create_plan, &ctx), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_TASK_INSERT);
	assert_int_equal(f->plan.nparams, db_stmt_nparams(STMT_TASK_INSERT));
	param_is(&f->plan, 0, ME);
	param_is(&f->plan, 1, "ab");
	param_is(&f->plan, 2, NULL);
	param_is(&f->plan, 3, "medium");
	param_is(&f->plan, 4, "2026-11-21T09:30:00.000000Z");
}

static void
test_task_create_plan_refuses(void **state)
{
	struct fixture	*f = *state;

	with_body(f, "{\"title\":\"x\",\"priority\":\"urgent\"}");
	assert_int_equal(plan(f, h_task_create_plan, &ctx), TERR_INVALID);
	assert_non_null(strstr(f->err, "priority"));
}

static void
test_task_patch_plan(void **state)
{
	struct fixture	*f = *state;

	memcpy(f->req.match.id, TASK, sizeof(TASK));
	with_body(f, "{\"description\":null,\"status\":\"done\"}");
	assert_int_equal(plan(f, h_task_patch_plan, &ctx), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_TASK_UPDATE);
	assert_int_equal(f->plan.nparams, db_stmt_nparams(STMT_TASK_UPDATE));
	param_is(&f->plan, 0, ME);
	param_is(&f->plan, 1, TASK);
	param_is(&f->plan, 2, "f");	/* title absent */
	param_is(&f->plan, 4, "t");	/* description present ... */
	param_is(&f->plan, 5, NULL);	/* ... and cleared */
	param_is(&f->plan, 6, "t");
	param_is(&f->plan, 7, "done");
	param_is(&f->plan, 8, "f");
	param_is(&f->plan, 10, "f");
}

static void
test_tasks_list_plan(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(query_parse("status=done&limit=5&x=y", &f->req.query),
	    0);
	assert_int_equal(plan(f, h_tasks_list_plan, &ctx), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_TASKS_LIST);
	param_is(&f->plan, 1, "done");
	param_is(&f->plan, 2, NULL);
	/* One row more than the page: it tells whether a next page exists. */
	param_is(&f->plan, 3, "6");
	param_is(&f->plan, 4, "0");
}

/* A sort, a filter or q picks one of the fixed list statements. */
static void
test_tasks_list_plan_sorted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    query_parse("sort=due_at&overdue=true&due_after=2026-01-01"
			"T01:00:00%2B01:00&limit=3",
		&f->req.query),
	    0);
	assert_int_equal(plan(f, h_tasks_list_plan, &ctx), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_TASKS_PAGE_DUE_ASC);
	assert_int_equal(f->plan.nparams, 11);
	param_is(&f->plan, 3, "2026-01-01T00:00:00.000000Z");
	param_is(&f->plan, 4, NULL);
	param_is(&f->plan, 5, "t");
	param_is(&f->plan, 6, NULL); /* no cursor: the first page */
	param_is(&f->plan, 7, NULL);
	param_is(&f->plan, 8, "4");
	param_is(&f->plan, 10, "f");

	plan_reset(&f->plan);
	assert_int_equal(query_parse("q=milk%20eggs&sort=-priority&count=true",
			     &f->req.query),
	    0);
	assert_int_equal(plan(f, h_tasks_list_plan, &ctx), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_TASKS_SEARCH_PRIORITY_DESC);
	assert_int_equal(f->plan.nparams, 12);
	param_is(&f->plan, 10, "t");
	param_is(&f->plan, 11, "milk eggs");
}

static void
test_tasks_list_plan_refuses(void **state)
{
	static const char *const bad[] = { "status=nope",
		"priority=", "limit=0", "limit=101", "limit=abc",
		"limit=", "limit=1.5", "offset=-1", "limit=1&limit=2",
		"status=done&status=todo", "limit=+5",
		"limit=99999999999999999999", "sort=title",
		"sort=", "q=", "q=%20", "overdue=yes", "count=1",
		"due_before=2026-02-30T00:00:00Z", "due_after=tomorrow",
		"cursor=abc", "cursor=", "sort=due_at&sort=-due_at" };
	struct fixture	*f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(query_parse(bad[i], &f->req.query), 0);
		plan_reset(&f->plan);
		if (plan(f, h_tasks_list_plan, &ctx) != TERR_INVALID)
			fail_msg("accepted %s", bad[i]);
	}
}

static void
test_user_patch_other_checks_caller_only(void **state)
{
	struct fixture	*f = *state;

	memcpy(f->req.match.id, OTHER, sizeof(OTHER));
	with_body(f, "{\"name\":\"x\"}");
	assert_int_equal(plan(f, h_user_patch_plan, &ctx), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_USER_EXISTS);
	param_is(&f->plan, 0, ME);
}

/*
 * A password is hashed (Argon2id, 19 MiB) only once the blocking loop
 * has seen that the token's user still exists: a deleted user's token,
 * or a loop that cannot check first, gets no hash.
 */
static void
test_user_patch_password_not_hashed_unchecked(void **state)
{
	struct fixture *f = *state;

	memcpy(f->req.match.id, ME, sizeof(ME));
	with_body(f, "{\"password\":\"a-new-password\"}");
	(void)plan(f, h_user_patch_plan, &ctx);
	assert_int_not_equal(f->plan.stmt, STMT_USER_UPDATE);
	for (int i = 0; i < f->plan.nparams; i++)
		if (f->plan.values[i] != NULL &&
		    strncmp(f->plan.values[i], "$argon2id$", 10) == 0)
			fail_msg("hashed before the user was checked");
}

static void
test_user_patch_password_hashed_once_checked(void **state)
{
	struct fixture *f = *state;
	struct hctx	checked = ctx;

	checked.user_checked = true;
	memcpy(f->req.match.id, ME, sizeof(ME));
	with_body(f, "{\"password\":\"a-new-password\"}");
	assert_int_equal(plan(f, h_user_patch_plan, &checked), TERR_OK);
	assert_int_equal(f->plan.stmt, STMT_USER_UPDATE);
}

static void
test_task_render_statuses(void **state)
{
	struct fixture		*f = *state;
	PGresult		*r;
	struct json_object	*o, *v;

	r = task_result(0, false);
	render(f, h_task_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 401);
	assert_true(f->resp.www_authenticate);
	PQclear(r);

	resp_reset(&f->resp);
	r = task_result(1, true);
	render(f, h_task_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 404);
	PQclear(r);

	resp_reset(&f->resp);
	r = task_result(1, false);
	render(f, h_task_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 200);
	o = resp_obj(&f->resp);
	assert_int_equal(json_object_object_length(o), 9);
	assert_true(json_object_object_get_ex(o, "description", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "priority", &v));
	assert_string_equal(json_object_get_string(v), "high");
	assert_true(json_object_object_get_ex(o, "created_at", &v));
	assert_string_equal(json_object_get_string(v), TS_API);
	assert_true(json_object_object_get_ex(o, "due_at", &v));
	assert_null(v);
	json_object_put(o);
	PQclear(r);
}

static void
test_task_delete_render(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "id" };
	const char	*yes[] = { TASK }, *no[] = { NULL };
	PGresult	*r;

	r = make_result(1, names, 1, yes);
	render(f, h_task_delete_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 204);
	assert_int_equal(f->resp.body.len, 0);
	PQclear(r);
	resp_reset(&f->resp);
	r = make_result(1, names, 1, no);
	render(f, h_task_delete_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 404);
	PQclear(r);
}

static void
test_list_render_empty_page(void **state)
{
	struct fixture	*f = *state;
	PGresult	*r = task_result(1, true);

	render(f, h_tasks_list_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 200);
	assert_string_equal(f->resp.body.p, "[]");
	PQclear(r);
}

static void
test_health_render(void **state)
{
	struct fixture	*f = *state;

	render(f, h_health_render, NULL, TERR_DB);
	assert_int_equal(f->resp.status, 503);
	assert_int_equal(f->resp.retry_after, 1);
	assert_non_null(strstr(f->resp.body.p, "\"degraded\""));
}

static void
test_login_render(void **state)
{
	struct fixture	*f = *state;
	const char	*names[] = { "id", "password_hash" };
	char		 hash[PASSWORD_HASH_MAX], sub[64];
	const char	*cells[2] = { ME, hash };
	PGresult	*r;
	struct json_object *o, *tok;

	assert_int_equal(password_hash("password123", 11, hash), 0);
	with_body(f, "{\"email\":\"a@b.c\",\"password\":\"password123\"}");
	r = make_result(2, names, 1, cells);
	render(f, h_login_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 200);
	o = resp_obj(&f->resp);
	assert_true(json_object_object_get_ex(o, "token", &tok));
	assert_int_equal(jwt_verify(conf.jwt_secret, conf.jwt_secret_len,
	    json_object_get_string(tok), strlen(json_object_get_string(tok)),
	    ctx.now + 10, sub, sizeof(sub)), JWT_OK);
	assert_string_equal(sub, ME);
	json_object_put(o);
	PQclear(r);

	/* Wrong password and unknown e-mail: the same 401. */
	json_object_put(f->req.json);
	f->req.json = NULL;
	resp_reset(&f->resp);
	with_body(f, "{\"email\":\"a@b.c\",\"password\":\"password124\"}");
	r = make_result(2, names, 1, cells);
	render(f, h_login_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 401);
	char body1[256];
	snprintf(body1, sizeof(body1), "%s", f->resp.body.p);
	PQclear(r);
	resp_reset(&f->resp);
	r = make_result(2, names, 0, cells);
	render(f, h_login_render, r, TERR_OK);
	assert_int_equal(f->resp.status, 401);
	assert_string_equal(f->resp.body.p, body1);
	PQclear(r);
}

/* The CGI head: every header in order, and nothing when buf is short. */
static void
t_resp_head(void **state)
{
	struct resp r;
	char	    buf[1024];
	size_t	    n;
	const char *want = "Status: 201 Created\r\n"
			   "Content-Type: application/json\r\n"
			   "Content-Length: 1234567\r\n"
			   "Location: /api/v1/tasks/x\r\n"
			   "Allow: GET, PATCH\r\n"
			   "WWW-Authenticate: Bearer realm=\"taskapi\"\r\n"
			   "Retry-After: 5\r\n"
			   "X-Request-Id: rid\r\n"
			   "traceresponse: 00-ab-cd-01\r\n"
			   "Cache-Control: no-store\r\n\r\n";

	(void)state;
	memset(&r, 0, sizeof(r));
	r.status = 201;
	r.content_type = "application/json";
	r.body.len = 1234567;
	snprintf(r.location, sizeof(r.location), "/api/v1/tasks/x");
	snprintf(r.allow, sizeof(r.allow), "GET, PATCH");
	r.www_authenticate = true;
	r.retry_after = 5;
	n = resp_head(&r, "rid", "00-ab-cd-01", buf, sizeof(buf));
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
	/* Every size short of the whole (and its NUL) gives 0. */
	for (size_t sz = 0; sz <= strlen(want); sz++)
		assert_int_equal(resp_head(&r, "rid", "00-ab-cd-01", buf, sz),
		    0);
	/* 204: no body headers; no ids: no id headers. */
	memset(&r, 0, sizeof(r));
	r.status = 204;
	n = resp_head(&r, NULL, "", buf, sizeof(buf));
	assert_string_equal(buf,
	    "Status: 204 No Content\r\n"
	    "Cache-Control: no-store\r\n\r\n");
	assert_int_equal(n, strlen(buf));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_resp_head),
		cmocka_unit_test_setup_teardown(test_task_create_plan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_task_create_plan_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_patch_plan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tasks_list_plan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tasks_list_plan_sorted,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_tasks_list_plan_refuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_user_patch_other_checks_caller_only, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_user_patch_password_not_hashed_unchecked, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_user_patch_password_hashed_once_checked, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_task_render_statuses,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_task_delete_render, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_render_empty_page,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_render, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_login_render, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("handlers", tests, NULL, NULL);
}
