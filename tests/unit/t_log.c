/*
 * t_log.c: the log lines (log.c).  stderr is pointed at a temporary
 * file, each line is read back and, in JSON form, parsed with json-c:
 * the fields, their order and their escaping are checked, in both the
 * direct and the buffered mode, and in text form.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "log.h"

static FILE *capture;

/* Points stderr at a fresh temporary file. */
static int
setup(void **state)
{
	(void)state;
	capture = tmpfile();
	if (capture == NULL || dup2(fileno(capture), STDERR_FILENO) < 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_buffered(0);
	log_set_request(NULL, NULL);
	log_setup(LOGL_INFO, LOGF_JSON, "taskapi");
	fclose(capture);
	return 0;
}

/* Everything written to stderr so far (caller frees). */
static char *
captured(void)
{
	long  n;
	char *s;

	fflush(stderr);
	n = lseek(STDERR_FILENO, 0, SEEK_END);
	assert_true(n >= 0);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(pread(STDERR_FILENO, s, (size_t)n, 0), n);
	return s;
}

static const char *
field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* An access line in JSON: every field, in order, one line. */
static void
t_access_json(void **state)
{
	static const char *const order[] = { "time", "level", "role", "pid",
		"request_id", "trace_id", "msg", "method", "route", "status",
		"duration_us", "user_id" };
	struct log_access	 a = { "GET", "/api/v1/tasks/{id}", 200, 1234,
		       "0b1c2d3e-0000-4000-8000-000000000001" };
	struct json_object	*o;
	char			*out, pid[32];
	size_t			 i = 0;

	(void)state;
	log_setup(LOGL_INFO, LOGF_JSON, "evworker");
	log_set_request("req-1", "4bf92f3577b34da6a3ce929d0e0e4736");
	log_access(&a);
	out = captured();
	assert_non_null(strchr(out, '\n'));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
	o = json_tokener_parse(out);
	assert_non_null(o);
	json_object_object_foreach (o, key, val) {
		(void)val;
		assert_true(i < sizeof(order) / sizeof(order[0]));
		assert_string_equal(key, order[i]);
		i++;
	}
	assert_int_equal(i, sizeof(order) / sizeof(order[0]));
	assert_int_equal(strlen(field(o, "time")), 27);
	assert_int_equal(field(o, "time")[26], 'Z');
	assert_string_equal(field(o, "level"), "info");
	assert_string_equal(field(o, "role"), "evworker");
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_string_equal(field(o, "pid"), pid);
	assert_string_equal(field(o, "request_id"), "req-1");
	assert_string_equal(field(o, "route"), "/api/v1/tasks/{id}");
	assert_true(json_object_is_type(json_object_object_get(o, "status"),
	    json_type_int));
	assert_int_equal(json_object_get_int(
			     json_object_object_get(o, "status")),
	    200);
	assert_int_equal(json_object_get_int64(
			     json_object_object_get(o, "duration_us")),
	    1234);
	assert_string_equal(field(o, "user_id"), a.user_id);
	json_object_put(o);
	free(out);
}

/* No user, no ids: those fields are left out. */
static void
t_access_anonymous(void **state)
{
	struct log_access   a = { "POST", "/api/v1/auth/login", 401, 0, "" };
	struct json_object *o;
	char		   *out;

	(void)state;
	log_access(&a);
	out = captured();
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_null(field(o, "user_id"));
	assert_null(field(o, "request_id"));
	assert_null(field(o, "trace_id"));
	assert_string_equal(field(o, "method"), "POST");
	json_object_put(o);
	free(out);
}

/*
 * A message with every awkward byte (quotes, backslash, newline, other
 * control bytes, a slash, non-ASCII UTF-8) comes back exactly, on one
 * line.
 */
static void
t_msg_escaped(void **state)
{
	const char *msg = "say \"hi\"\\ \n\r\t\x01\x1f / caf\xc3\xa9 {}";
	struct json_object *o;
	char		   *out;

	(void)state;
	log_warn("%s", msg);
	out = captured();
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_string_equal(field(o, "level"), "warn");
	assert_string_equal(field(o, "msg"), msg);
	json_object_put(o);
	free(out);
}

/* Below the level: nothing at all. */
static void
t_level_filter(void **state)
{
	struct log_access a = { "GET", "/health", 200, 1, NULL };
	char		 *out;

	(void)state;
	log_setup(LOGL_WARN, LOGF_JSON, "worker");
	log_info("not written");
	log_access(&a);
	log_debug("not written either");
	out = captured();
	assert_string_equal(out, "");
	free(out);
}

/* Buffered: nothing until log_flush(), then whole lines in order. */
static void
t_buffered(void **state)
{
	char *out, *nl;

	(void)state;
	log_set_buffered(1);
	for (int i = 0; i < 3; i++)
		log_info("line %d", i);
	out = captured();
	assert_string_equal(out, "");
	free(out);
	log_flush();
	out = captured();
	for (int i = 0; i < 3; i++) {
		char want[16];
		nl = strchr(i == 0 ? out : nl + 1, '\n');
		assert_non_null(nl);
		snprintf(want, sizeof(want), "\"line %d\"", i);
		assert_non_null(strstr(out, want));
	}
	assert_string_equal(nl + 1, "");
	free(out);
}

/* A line longer than any before (and than the buffer) stays whole. */
static void
t_long_line(void **state)
{
	size_t		    n = 100000;
	char		   *big = malloc(n + 1), *out;
	struct json_object *o;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	big[n] = '\0';
	log_set_buffered(1);
	log_error("%s", big); /* log_msg keeps the first 2 KiB */
	log_flush();
	out = captured();
	o = json_tokener_parse(out);
	assert_non_null(o);
	assert_int_equal(strlen(field(o, "msg")), 2047);
	json_object_put(o);
	free(out);
	free(big);
}

/* Text form: "time level role[pid] key=value ...", values as they are. */
static void
t_text(void **state)
{
	struct log_access a = { "GET", "/health", 503, 7, NULL };
	char		  want[128], *out;

	(void)state;
	log_setup(LOGL_INFO, LOGF_TEXT, "master");
	log_set_request("r-9", NULL);
	log_access(&a);
	out = captured();
	snprintf(want, sizeof(want),
	    " info master[%ld] request_id=r-9 msg=request method=GET "
	    "route=/health status=503 duration_us=7\n",
	    (long)getpid());
	assert_int_equal(strlen(out), 27 + strlen(want));
	assert_string_equal(out + 27, want);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_access_json, setup, teardown),
		cmocka_unit_test_setup_teardown(t_access_anonymous, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_msg_escaped, setup, teardown),
		cmocka_unit_test_setup_teardown(t_level_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_buffered, setup, teardown),
		cmocka_unit_test_setup_teardown(t_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(t_text, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
