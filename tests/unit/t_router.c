/*
 * t_router.c: the route table: matches, 404, 405 with Allow, bad ids.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "request.h"
#include "router.h"

#define UUID	"0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7b"

static enum router_result
match(enum http_method m, const char *path, struct route_match *rm)
{
	return router_match((int)m, path, strlen(path), rm);
}

static void
test_fixed_routes(void **state)
{
	struct route_match	 m;

	(void)state;
	assert_int_equal(match(METHOD_GET, "/health", &m), ROUTER_OK);
	assert_int_equal(m.endpoint, EP_HEALTH);
	assert_int_equal(match(METHOD_POST, "/api/v1/auth/register", &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_REGISTER);
	assert_int_equal(match(METHOD_POST, "/api/v1/auth/login", &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_LOGIN);
	assert_int_equal(match(METHOD_GET, "/api/v1/me", &m), ROUTER_OK);
	assert_int_equal(m.endpoint, EP_ME);
	assert_int_equal(match(METHOD_GET, "/api/v1/users", &m), ROUTER_OK);
	assert_int_equal(m.endpoint, EP_USERS_LIST);
	assert_int_equal(match(METHOD_GET, "/api/v1/tasks", &m), ROUTER_OK);
	assert_int_equal(m.endpoint, EP_TASKS_LIST);
	assert_int_equal(match(METHOD_POST, "/api/v1/tasks", &m), ROUTER_OK);
	assert_int_equal(m.endpoint, EP_TASK_CREATE);
}

static void
test_id_routes(void **state)
{
	struct route_match	 m;

	(void)state;
	assert_int_equal(match(METHOD_GET, "/api/v1/tasks/" UUID, &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_TASK_GET);
	assert_string_equal(m.id, UUID);
	assert_int_equal(match(METHOD_PATCH, "/api/v1/tasks/" UUID, &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_TASK_PATCH);
	assert_int_equal(match(METHOD_DELETE, "/api/v1/tasks/" UUID, &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_TASK_DELETE);
	assert_int_equal(match(METHOD_GET, "/api/v1/users/" UUID, &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_USER_GET);
	assert_int_equal(match(METHOD_PATCH, "/api/v1/users/" UUID, &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_USER_PATCH);
	assert_int_equal(match(METHOD_DELETE, "/api/v1/users/" UUID, &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_USER_DELETE);
}

static void
test_export_beats_id(void **state)
{
	struct route_match	 m;

	(void)state;
	assert_int_equal(match(METHOD_GET, "/api/v1/tasks/export", &m),
	    ROUTER_OK);
	assert_int_equal(m.endpoint, EP_TASKS_EXPORT);
	assert_int_equal(m.route, EP_TASKS_EXPORT);
	/* Only GET exists on the export. */
	assert_int_equal(match(METHOD_DELETE, "/api/v1/tasks/export", &m),
	    ROUTER_BADMETHOD);
	assert_int_equal(m.allow, 1u << METHOD_GET);
}

static void
test_not_found(void **state)
{
	static const char *const paths[] = {
		"/", "", "/api", "/api/v1", "/api/v1/", "/api/v1/tasks/",
		"/api/v1/tasks//", "//api/v1/tasks", "/api/v1/task",
		"/api/v1/tasksx", "/API/v1/tasks", "/api/v1/tasks/" UUID "/",
		"/api/v1/tasks/" UUID "/x", "/api/v1/users/" UUID "/tasks",
		"/health/", "/healthz", "/api/v1/%74asks", "/api/v2/tasks",
	};
	struct route_match	 m;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		enum router_result rr = match(METHOD_GET, paths[i], &m);
		if (rr != ROUTER_NOTFOUND)
			fail_msg("%s: got %d, want 404", paths[i], (int)rr);
	}
}

static void
test_method_not_allowed(void **state)
{
	struct route_match	 m;
	char			 allow[64];

	(void)state;
	assert_int_equal(match(METHOD_DELETE, "/api/v1/tasks", &m),
	    ROUTER_BADMETHOD);
	router_allow_header(m.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(match(METHOD_PUT, "/api/v1/tasks/" UUID, &m),
	    ROUTER_BADMETHOD);
	router_allow_header(m.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET, PATCH, DELETE");
	assert_int_equal(match(METHOD_GET, "/api/v1/auth/login", &m),
	    ROUTER_BADMETHOD);
	router_allow_header(m.allow, allow, sizeof(allow));
	assert_string_equal(allow, "POST");
	assert_int_equal(match(METHOD_OTHER, "/health", &m),
	    ROUTER_BADMETHOD);
	router_allow_header(m.allow, allow, sizeof(allow));
	assert_string_equal(allow, "GET");
	/* 405 is decided before the id is looked at. */
	assert_int_equal(match(METHOD_POST, "/api/v1/tasks/nope", &m),
	    ROUTER_BADMETHOD);
}

static void
test_bad_ids(void **state)
{
	static const char *const ids[] = {
		"nope", "0B6F3A0E-8C2D-4F5E-9A1B-2C3D4E5F6A7B",
		"{" UUID "}", UUID "0", "0b6f3a0e8c2d4f5e9a1b2c3d4e5f6a7b",
		"0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7", "%2e%2e", "..",
		"0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7g",
		"0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7b0b6f3a0e-8c2d-4f5e",
	};
	struct route_match	 m;
	char			 path[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(path, sizeof(path), "/api/v1/tasks/%s", ids[i]);
		if (match(METHOD_GET, path, &m) != ROUTER_BADID)
			fail_msg("%s: not refused as a bad id", path);
		snprintf(path, sizeof(path), "/api/v1/users/%s", ids[i]);
		if (match(METHOD_DELETE, path, &m) != ROUTER_BADID)
			fail_msg("%s: not refused as a bad id", path);
	}
}

/* The router stops after the rows of the matched pattern: they are adjacent. */
static void
test_rows_of_a_pattern_adjacent(void **state)
{
	(void)state;
	for (unsigned i = 1; i < EP__MAX; i++) {
		const char *pat = router_pattern((enum endpoint_id)i);
		const char *prev = router_pattern((enum endpoint_id)(i - 1));

		if (strcmp(pat, prev) == 0)
			continue;
		/* A new pattern starts at i: none before i may have it. */
		for (unsigned k = 0; k + 1 < i; k++)
			if (strcmp(router_pattern((enum endpoint_id)k), pat) ==
			    0)
				fail_msg("%s: rows %u and %u apart", pat, k, i);
	}
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(router_pattern(EP_TASK_GET), "/api/v1/tasks/{id}");
	assert_string_equal(router_pattern(ROUTE__MAX), "-");
	assert_string_equal(router_pattern(EP_TASKS_EXPORT),
	    "/api/v1/tasks/export");
	assert_int_equal(req_method_parse("PATCH"), METHOD_PATCH);
	assert_int_equal(req_method_parse("patch"), METHOD_OTHER);
	assert_int_equal(req_method_parse(NULL), METHOD_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed_routes),
		cmocka_unit_test(test_id_routes),
		cmocka_unit_test(test_export_beats_id),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_rows_of_a_pattern_adjacent),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
