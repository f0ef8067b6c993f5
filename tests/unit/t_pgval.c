/*
 * t_pgval.c: result columns in text or binary format (pgval.c), and a
 * task row rendered from either (render.c): the JSON must be the same
 * byte for byte, whichever format PostgreSQL sent.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "buf.h"
#include "pgval.h"
#include "render.h"

#define TEXT_OID 25

/* A one-row result of ncols columns of the given types and format. */
static PGresult *
result(int ncols, const unsigned *types, int format)
{
	PGresAttDesc attrs[16];
	PGresult    *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	assert_non_null(r);
	assert_true(ncols <= 16);
	memset(attrs, 0, sizeof(attrs));
	for (int c = 0; c < ncols; c++) {
		attrs[c].name = (char *)(uintptr_t) "c";
		attrs[c].typid = types[c];
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
		attrs[c].format = format;
	}
	assert_true(PQsetResultAttrs(r, ncols, attrs));
	return r;
}

static void
set(PGresult *r, int col, const void *v, int len)
{
	assert_true(PQsetvalue(r, 0, col, (char *)(uintptr_t)v, len));
}

static void
put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void
time_is(int64_t t, const char *want)
{
	char s[LIM_TIMESTAMP_LEN + 1];

	assert_true(pgval_time_rfc3339(t, s));
	assert_string_equal(s, want);
}

/* Microseconds since 2000 (worked out apart, with Python's datetime). */
static void
t_time(void **state)
{
	char s[LIM_TIMESTAMP_LEN + 1];

	(void)state;
	time_is(0, "2000-01-01T00:00:00.000000Z");
	time_is(-1, "1999-12-31T23:59:59.999999Z");
	time_is(762525296789012LL, "2024-02-29T12:34:56.789012Z");
	time_is(848568600123400LL, "2026-11-21T09:30:00.123400Z");
	time_is(-946684800000000LL, "1970-01-01T00:00:00.000000Z");
	time_is(-3150575999999999LL, "1900-03-01T00:00:00.000001Z");
	time_is(252455615999999999LL, "9999-12-31T23:59:59.999999Z");
	time_is(-63082281600000000LL, "0001-01-01T00:00:00.000000Z");
	/* Out of the API's years, and the infinities: none. */
	assert_false(pgval_time_rfc3339(-63082281600000001LL, s));
	assert_false(pgval_time_rfc3339(252455616000000000LL, s));
	assert_false(pgval_time_rfc3339(INT64_MAX, s));
	assert_false(pgval_time_rfc3339(INT64_MIN, s));
	assert_false(pgval_time_rfc3339(INT64_MAX - 1, s));
}

static void
t_int(void **state)
{
	static const unsigned types[4] = { PGVAL_INT2_OID, PGVAL_INT4_OID,
		PGVAL_INT8_OID, TEXT_OID };
	unsigned char	      i2[2], i4[4], i8[8];
	PGresult	     *r = result(4, types, 1);
	PGresult	     *t = result(1, types + 2, 0);
	long long	      v;
	char		      s[32];

	(void)state;
	put_be(i2, (uint16_t)-2, 2);
	put_be(i4, 123456789, 4);
	put_be(i8, (uint64_t)-9000000000LL, 8);
	set(r, 0, i2, 2);
	set(r, 1, i4, 4);
	set(r, 2, i8, 8);
	set(r, 3, "12", 2);
	assert_true(pgval_int(r, 0, 0, &v));
	assert_int_equal(v, -2);
	assert_true(pgval_int(r, 0, 1, &v));
	assert_int_equal(v, 123456789);
	assert_true(pgval_int(r, 0, 2, &v));
	assert_true(v == -9000000000LL);
	assert_false(pgval_int(r, 0, 3, &v)); /* binary text: not an int */
	assert_false(pgval_int(r, 0, 9, &v)); /* no such column */
	assert_int_equal(pgval_text(r, 0, 2, s, sizeof(s)), 11);
	assert_string_equal(s, "-9000000000");
	set(t, 0, "42", 2);
	assert_true(pgval_int(t, 0, 0, &v));
	assert_int_equal(v, 42);
	set(t, 0, NULL, -1);
	assert_false(pgval_int(t, 0, 0, &v)); /* NULL */
	set(r, 2, i4, 4);
	assert_false(pgval_int(r, 0, 2, &v)); /* int8 of 4 bytes */
	PQclear(r);
	PQclear(t);
}

static const unsigned char id_bytes[16] = { 0x00, 0x04, 0x63, 0xc4, 0x7f, 0x30,
	0x40, 0xb2, 0x8d, 0xa3, 0xfd, 0x01, 0xd2, 0xed, 0x0d, 0xaa };
#define ID_TEXT "000463c4-7f30-40b2-8da3-fd01d2ed0daa"

static void
t_uuid_and_text(void **state)
{
	static const unsigned types[3] = { PGVAL_UUID_OID,
		PGVAL_TIMESTAMPTZ_OID, TEXT_OID };
	PGresult	     *r = result(3, types, 1);
	PGresult	     *t = result(1, types, 0);
	unsigned char	      ts[8];
	char		      u[PGVAL_UUID_LEN + 1], s[40];

	(void)state;
	set(r, 0, id_bytes, 16);
	put_be(ts, 848568600123400ULL, 8);
	set(r, 1, ts, 8);
	set(r, 2, "todo", 4);
	assert_true(pgval_uuid(r, 0, 0, u));
	assert_string_equal(u, ID_TEXT);
	assert_int_equal(pgval_text(r, 0, 0, s, sizeof(s)), 36);
	assert_string_equal(s, ID_TEXT);
	assert_int_equal(pgval_text(r, 0, 1, s, sizeof(s)), 29);
	assert_string_equal(s, "2026-11-21 09:30:00.123400+00");
	assert_int_equal(pgval_text(r, 0, 1, s, 29), 0); /* too small */
	assert_int_equal(pgval_text(r, 0, 1, s, 30), 29);
	assert_int_equal(pgval_text(r, 0, 2, s, sizeof(s)), 4);
	assert_string_equal(s, "todo");
	put_be(ts, (uint64_t)INT64_MAX, 8);
	set(r, 1, ts, 8);
	assert_int_equal(pgval_text(r, 0, 1, s, sizeof(s)), 8);
	assert_string_equal(s, "infinity");
	put_be(ts, (uint64_t)INT64_MIN, 8);
	set(r, 1, ts, 8);
	assert_int_equal(pgval_text(r, 0, 1, s, sizeof(s)), 9);
	assert_string_equal(s, "-infinity");
	put_be(ts, (uint64_t)-63082281600000001LL, 8); /* 1 BC: none */
	set(r, 1, ts, 8);
	assert_int_equal(pgval_text(r, 0, 1, s, sizeof(s)), 0);
	assert_false(pgval_uuid(r, 0, 2, u)); /* not a uuid */
	set(t, 0, ID_TEXT, 36);
	assert_true(pgval_uuid(t, 0, 0, u));
	assert_string_equal(u, ID_TEXT);
	set(t, 0, "not-a-uuid", 10);
	assert_false(pgval_uuid(t, 0, 0, u));
	set(t, 0, NULL, -1);
	assert_int_equal(pgval_text(t, 0, 0, s, sizeof(s)), 0);
	PQclear(r);
	PQclear(t);
}

/* The JSON of a task row, or "FAILED". */
static char *
rendered(const PGresult *r)
{
	struct buf jb;
	char	  *out;

	memset(&jb, 0, sizeof(jb));
	render_task_row(&jb, r, 0);
	if (jb.failed)
		out = strdup("FAILED");
	else {
		out = malloc(jb.len + 1);
		assert_non_null(out);
		memcpy(out, jb.p, jb.len);
		out[jb.len] = '\0';
	}
	buf_free(&jb);
	assert_non_null(out);
	return out;
}

/*
 * The text row t and the binary row b render as the same JSON, which
 * holds want (NULL: any) or is "FAILED" when want is.
 */
static void
same_render(const PGresult *t, const PGresult *b, const char *want)
{
	char *jt = rendered(t), *jbin = rendered(b);

	assert_string_equal(jbin, jt);
	if (want != NULL && strcmp(want, "FAILED") == 0)
		assert_string_equal(jbin, "FAILED");
	else if (want != NULL)
		assert_non_null(strstr(jbin, want));
	free(jt);
	free(jbin);
}

/* task_cols' types: two uuids, four texts (enums too), three times. */
static const unsigned task_types[9] = { PGVAL_UUID_OID, PGVAL_UUID_OID,
	TEXT_OID, TEXT_OID, TEXT_OID, TEXT_OID, PGVAL_TIMESTAMPTZ_OID,
	PGVAL_TIMESTAMPTZ_OID, PGVAL_TIMESTAMPTZ_OID };

static void
t_render_same(void **state)
{
	static const char *const texts[4] = { "a \"title\"\n", NULL, "todo",
		"high" };
	PGresult     *t = result(9, task_types, 0);
	PGresult     *b = result(9, task_types, 1);
	unsigned char created[8], updated[8], due[8];
	char			*jbin;

	(void)state;
	set(t, 0, ID_TEXT, 36);
	set(t, 1, ID_TEXT, 36);
	set(b, 0, id_bytes, 16);
	set(b, 1, id_bytes, 16);
	for (int c = 2; c < 6; c++) { /* the same characters in both */
		const char *v = texts[c - 2];

		set(t, c, v, v == NULL ? -1 : (int)strlen(v));
		set(b, c, v, v == NULL ? -1 : (int)strlen(v));
	}
	set(t, 6, NULL, -1);
	set(b, 6, NULL, -1);
	set(t, 7, "2026-11-21 09:30:00.1234+00", 27);
	set(t, 8, "1999-12-31 23:59:59.999999+00", 29);
	put_be(created, 848568600123400ULL, 8);
	put_be(updated, (uint64_t)-1, 8);
	set(b, 7, created, 8);
	set(b, 8, updated, 8);
	same_render(t, b, "\"created_at\":\"2026-11-21T09:30:00.123400Z\"");
	/* A due date, whole seconds: "2024-02-29 12:34:56+00". */
	set(t, 6, "2024-02-29 12:34:56+00", 22);
	put_be(due, 762525296000000ULL, 8);
	set(b, 6, due, 8);
	same_render(t, b, NULL);
	/* Out of the API's range (year 10000, infinity): a failed render
	 * in both formats. */
	set(t, 6, "infinity", 8);
	put_be(due, (uint64_t)INT64_MAX, 8);
	set(b, 6, due, 8);
	same_render(t, b, "FAILED");
	put_be(due, 252455616000000000ULL, 8); /* 10000-01-01 */
	set(b, 6, due, 8);
	jbin = rendered(b);
	assert_string_equal(jbin, "FAILED");
	free(jbin);
	/* A binary uuid of the wrong length: failed, not garbage. */
	set(b, 6, NULL, -1);
	set(b, 0, id_bytes, 15);
	jbin = rendered(b);
	assert_string_equal(jbin, "FAILED");
	free(jbin);
	PQclear(t);
	PQclear(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_time),
		cmocka_unit_test(t_int),
		cmocka_unit_test(t_uuid_and_text),
		cmocka_unit_test(t_render_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
