/*
 * t_fcgi_params.c: FastCGI params to a request, the rule both workers
 * share: the path (REQUEST_URI, else SCRIPT_NAME + PATH_INFO and
 * QUERY_STRING) and a strict CONTENT_LENGTH checked against the body.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fcgi_params.h"

/* name=value pairs, NULL-terminated. */
static const char *
get(void *ctx, const char *name)
{
	const char *const *kv = ctx;

	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static int
run(const char *const *kv, struct req *r, struct fcgi_req_extra *x,
    const char **why)
{
	memset(r, 0, sizeof(*r));
	*why = NULL;
	return fcgi_params_to_req(get, (void *)(uintptr_t)kv, r, x, why);
}

static void
test_path(void **state)
{
	struct req	      r;
	struct fcgi_req_extra x = { NULL, 0, -1 };
	const char	     *why;
	const char *const nginx[] = { "REQUEST_METHOD", "GET", "REQUEST_URI",
		"/api/v1/tasks?limit=2", "SCRIPT_NAME", "/ignored", NULL };
	const char *const cgi[] = { "REQUEST_METHOD", "GET", "SCRIPT_NAME",
		"/api", "PATH_INFO", "/v1/tasks", "QUERY_STRING", "limit=2",
		NULL };
	const char *const noquery[] = { "SCRIPT_NAME", "/health",
		"QUERY_STRING", "", NULL };
	const char *const none[] = { NULL };

	(void)state;
	assert_int_equal(run(nginx, &r, &x, &why), 0);
	assert_string_equal(r.uri, "/api/v1/tasks?limit=2");
	assert_int_equal(r.method, METHOD_GET);
	assert_int_equal(run(cgi, &r, &x, &why), 0);
	assert_string_equal(r.uri, "/api/v1/tasks?limit=2");
	assert_int_equal(run(noquery, &r, &x, &why), 0);
	assert_string_equal(r.uri, "/health");
	assert_int_equal(run(none, &r, &x, &why), 0);
	assert_string_equal(r.uri, "/");
	assert_string_equal(r.method_str, "-");
	fcgi_req_extra_free(&x);
}

static void
test_content_length(void **state)
{
	struct req	      r;
	struct fcgi_req_extra x = { NULL, 0, -1 };
	const char	     *why;
	const char *const     ok[] = { "CONTENT_LENGTH", "20", NULL };
	const char *const     empty[] = { "CONTENT_LENGTH", "", NULL };
	const char *const     big[] = { "CONTENT_LENGTH", "99999999", NULL };
	const char *const     bad[][3] = { { "CONTENT_LENGTH", "abc", NULL },
		    { "CONTENT_LENGTH", "-5", NULL },
		    { "CONTENT_LENGTH", "+5", NULL },
		    { "CONTENT_LENGTH", " 5", NULL },
		    { "CONTENT_LENGTH", "99999999999999999999999", NULL } };

	(void)state;
	assert_int_equal(run(ok, &r, &x, &why), 0);
	assert_int_equal(x.content_length, 20);
	assert_int_equal(fcgi_body_check(&x, 20, &why), 0);
	assert_int_equal(fcgi_body_check(&x, 19, &why), 400);
	assert_non_null(why);
	assert_int_equal(fcgi_body_check(&x, 21, &why), 400);
	assert_int_equal(run(empty, &r, &x, &why), 0);
	assert_int_equal(x.content_length, -1);
	assert_int_equal(fcgi_body_check(&x, 7, &why), 0);
	assert_int_equal(run(big, &r, &x, &why), 0);
	assert_true(r.body_too_large);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(run(bad[i], &r, &x, &why), 400);
		assert_non_null(why);
	}
	fcgi_req_extra_free(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_content_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
