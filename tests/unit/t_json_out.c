/*
 * t_json_out.c: the row writer (json_out.c).  Strings are checked byte
 * for byte against json-c's own serialiser, which wrote the API's
 * bodies before, and every output is parsed back with json-c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "json_out.h"
#include "response.h"

/* What json-c writes for the string s[0..n). */
static char *
jsonc_string(const char *s, size_t n)
{
	struct json_object *o = json_object_new_string_len(s, (int)n);
	char		   *out;

	assert_non_null(o);
	out = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	assert_non_null(out);
	return out;
}

static void
check_str(const char *s, size_t n)
{
	struct buf  jb = { NULL, 0, 0, false };
	char	   *want = jsonc_string(s, n);

	jb_str(&jb, s, n);
	assert_false(jb.failed);
	assert_int_equal(jb.len, strlen(want));
	assert_memory_equal(jb.p, want, jb.len);
	free(want);
	jb_free(&jb);
}

/* Every byte value 1..255 alone and inside text, and common cases. */
static void
t_str_matches_json_c(void **state)
{
	char buf[8];

	(void)state;
	for (int c = 1; c < 256; c++) {
		buf[0] = (char)c;
		check_str(buf, 1);
		memcpy(buf, "ab", 2);
		buf[2] = (char)c;
		memcpy(buf + 3, "cd", 2);
		check_str(buf, 5);
	}
	check_str("", 0);
	check_str("plain title", 11);
	check_str("quote \" backslash \\ slash / tab \t nl \n", 38);
	check_str("caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80", 14);
	check_str("\x1f\x7f", 2);
}

/* A long string grows the buffer and stays exact. */
static void
t_str_long(void **state)
{
	size_t n = 100000;
	char  *s = malloc(n);

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)(i % 7 == 0 ? '"' : 'a' + (int)(i % 26));
	check_str(s, n);
	free(s);
}

static void
check_time(const char *pg, const char *want)
{
	struct buf jb = { NULL, 0, 0, false };

	jb_pgtime(&jb, pg, strlen(pg));
	if (want == NULL) {
		assert_true(jb.failed);
	} else {
		assert_false(jb.failed);
		jb_raw(&jb, "", 0);
		assert_int_equal(jb.len, strlen(want) + 2);
		assert_memory_equal(jb.p + 1, want, strlen(want));
		assert_int_equal(jb.p[0], '"');
		assert_int_equal(jb.p[jb.len - 1], '"');
	}
	jb_free(&jb);
}

/* PostgreSQL trims trailing fraction zeros; the API always has six. */
static void
t_pgtime(void **state)
{
	(void)state;
	check_time("2026-11-21 09:30:00+00", "2026-11-21T09:30:00.000000Z");
	check_time("2026-11-21 09:30:00.1+00", "2026-11-21T09:30:00.100000Z");
	check_time("2026-11-21 09:30:00.1234+00",
	    "2026-11-21T09:30:00.123400Z");
	check_time("2026-11-21 09:30:00.123456+00",
	    "2026-11-21T09:30:00.123456Z");
	check_time("0001-01-01 00:00:00+00", "0001-01-01T00:00:00.000000Z");
	check_time("9999-12-31 23:59:59.999999+00",
	    "9999-12-31T23:59:59.999999Z");
}

/* Anything but that exact shape is refused, never passed through. */
static void
t_pgtime_rejects(void **state)
{
	(void)state;
	check_time("", NULL);
	check_time("2026-11-21 09:30:00", NULL);    /* no zone */
	check_time("2026-11-21 09:30:00+01", NULL); /* not UTC */
	check_time("2026-11-21 09:30:00.+00", NULL);
	check_time("2026-11-21 09:30:00.1234567+00", NULL); /* 7 digits */
	check_time("2026-11-21T09:30:00+00", NULL);
	check_time("2026-11-21 09:30:00.123x+00", NULL);
	check_time("12026-11-21 09:30:00+00", NULL); /* year 12026 */
	check_time("0001-01-01 00:00:00+00 BC", NULL);
	check_time("11/21/2026 09:30:00.00 UTC", NULL);	  /* DateStyle SQL */
	check_time("Sat Nov 21 09:30:00 2026 UTC", NULL); /* Postgres */
}

/* jb_begin reuses the response's buffer; jb_end hands it back. */
static void
t_begin_end(void **state)
{
	struct resp	    r;
	struct buf	    jb;
	struct json_object *o;

	(void)state;
	memset(&r, 0, sizeof(r));
	resp_raw(&r, 200, "text/plain", "old body", 8);
	jb_begin(&jb, &r);
	assert_null(r.body.p);
	jb_lit(&jb, "{\"k\":");
	jb_str(&jb, "v\n", 2);
	jb_lit(&jb, ",\"t\":");
	jb_pgtime(&jb, "2026-01-02 03:04:05.6+00", 24);
	jb_lit(&jb, "}");
	jb_end(&jb, &r, 201);
	assert_null(jb.p);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body.p,
	    "{\"k\":\"v\\n\",\"t\":\"2026-01-02T03:04:05.600000Z\"}");
	assert_int_equal(r.body.len, strlen(r.body.p));
	o = json_tokener_parse(r.body.p);
	assert_non_null(o);
	json_object_put(o);

	/* A bad value makes the whole answer a 500, not a broken body. */
	jb_begin(&jb, &r);
	jb_lit(&jb, "{\"t\":");
	jb_pgtime(&jb, "yesterday", 9);
	jb_lit(&jb, "}");
	jb_end(&jb, &r, 200);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body.p, "\"error\""));
	resp_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_str_matches_json_c),
		cmocka_unit_test(t_str_long),
		cmocka_unit_test(t_pgtime),
		cmocka_unit_test(t_pgtime_rejects),
		cmocka_unit_test(t_begin_end),
	};

	return cmocka_run_group_tests_name("json_out", tests, NULL, NULL);
}
