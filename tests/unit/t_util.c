/*
 * t_util.c: unit tests for util.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP).
 *
 * Expected instants were computed independently with Python's datetime
 * (e.g. datetime.fromisoformat(s) - datetime(1970, 1, 1, tzinfo=utc)),
 * and the day arithmetic is swept against glibc's timegm(3), which
 * util.c itself does not use.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "api_limits.h"
#include "util.h"

/* util_utf8_valid over a string literal, embedded NULs included. */
#define UTF8_OK(lit)	util_utf8_valid((lit), sizeof(lit) - 1)
#define UTF8_COUNT(lit)	util_utf8_count((lit), sizeof(lit) - 1)

/* --- UTF-8 ------------------------------------------------------------- */

static void
t_utf8_valid_plain(void **state)
{

	(void)state;
	assert_true(UTF8_OK(""));
	assert_true(util_utf8_valid(NULL, 0));
	assert_true(UTF8_OK("hello, world"));
	assert_true(UTF8_OK("\x01\x7f"));
	assert_true(UTF8_OK("caf\xc3\xa9"));			/* é */
	assert_true(UTF8_OK("\xe2\x82\xac"));			/* € */
	assert_true(UTF8_OK("\xf0\x9f\x98\x80"));		/* 😀 */
}

static void
t_utf8_valid_boundaries(void **state)
{

	(void)state;
	assert_true(UTF8_OK("\xc2\x80"));		/* U+0080 */
	assert_true(UTF8_OK("\xdf\xbf"));		/* U+07FF */
	assert_true(UTF8_OK("\xe0\xa0\x80"));		/* U+0800 */
	assert_true(UTF8_OK("\xed\x9f\xbf"));		/* U+D7FF */
	assert_true(UTF8_OK("\xee\x80\x80"));		/* U+E000 */
	assert_true(UTF8_OK("\xef\xbf\xbf"));		/* U+FFFF */
	assert_true(UTF8_OK("\xf0\x90\x80\x80"));	/* U+10000 */
	assert_true(UTF8_OK("\xf4\x8f\xbf\xbf"));	/* U+10FFFF */
}

static void
t_utf8_rejects_overlong(void **state)
{

	(void)state;
	assert_false(UTF8_OK("\xc0\x80"));		/* NUL */
	assert_false(UTF8_OK("\xc1\xbf"));
	assert_false(UTF8_OK("\xc0\xaf"));		/* '/' */
	assert_false(UTF8_OK("\xe0\x80\x80"));
	assert_false(UTF8_OK("\xe0\x9f\xbf"));
	assert_false(UTF8_OK("\xf0\x80\x80\x80"));
	assert_false(UTF8_OK("\xf0\x8f\xbf\xbf"));
}

static void
t_utf8_rejects_surrogates(void **state)
{

	(void)state;
	assert_false(UTF8_OK("\xed\xa0\x80"));		/* U+D800 */
	assert_false(UTF8_OK("\xed\xaf\xbf"));		/* U+DBFF */
	assert_false(UTF8_OK("\xed\xb0\x80"));		/* U+DC00 */
	assert_false(UTF8_OK("\xed\xbf\xbf"));		/* U+DFFF */
	assert_false(UTF8_OK("\xed\xa0\xbd\xed\xb8\x80"));	/* CESU-8 */
}

static void
t_utf8_rejects_above_max(void **state)
{

	(void)state;
	assert_false(UTF8_OK("\xf4\x90\x80\x80"));	/* U+110000 */
	assert_false(UTF8_OK("\xf5\x80\x80\x80"));
	assert_false(UTF8_OK("\xf7\xbf\xbf\xbf"));
	assert_false(UTF8_OK("\xf8\x88\x80\x80\x80"));	/* 5-byte form */
	assert_false(UTF8_OK("\xfe"));
	assert_false(UTF8_OK("\xff"));
}

static void
t_utf8_rejects_stray_continuation(void **state)
{

	(void)state;
	assert_false(UTF8_OK("\x80"));
	assert_false(UTF8_OK("a\xbf"));
	assert_false(UTF8_OK("\xc3\xa9\xa9"));		/* one too many */
}

static void
t_utf8_rejects_truncated(void **state)
{

	(void)state;
	assert_false(UTF8_OK("\xc3"));
	assert_false(UTF8_OK("\xe2\x82"));
	assert_false(UTF8_OK("\xf0\x9f\x98"));
	assert_false(UTF8_OK("\xe2\x82" "A"));		/* cut by ASCII */
	assert_false(UTF8_OK("\xc3" "A"));
	/* The length, not a NUL, ends the input. */
	assert_false(util_utf8_valid("\xc3\xa9", 1));
	assert_true(util_utf8_valid("\xc3\xa9\xff", 2));
}

static void
t_utf8_rejects_nul(void **state)
{

	(void)state;
	assert_false(UTF8_OK("\0"));
	assert_false(UTF8_OK("a\0b"));
	assert_false(UTF8_OK("abc\0"));
	assert_true(util_utf8_valid("abc\0", 3));
}

static void
t_utf8_count(void **state)
{

	(void)state;
	assert_int_equal(UTF8_COUNT(""), 0);
	assert_int_equal(util_utf8_count(NULL, 0), 0);
	assert_int_equal(UTF8_COUNT("hello"), 5);
	assert_int_equal(UTF8_COUNT("h\xc3\xa9llo"), 5);
	assert_int_equal(UTF8_COUNT("\xe2\x82\xac"), 1);
	assert_int_equal(UTF8_COUNT("\xf0\x9f\x98\x80"), 1);
	assert_int_equal(UTF8_COUNT("a\xf0\x9f\x98\x80" "b"), 3);
	assert_int_equal(UTF8_COUNT("\xf4\x8f\xbf\xbf\xc2\x80"), 2);
}

/* --- trim -------------------------------------------------------------- */

static void
t_trim(void **state)
{
	const char	*s, *r;
	size_t		 n;

	(void)state;
	s = "  ab c \t";
	r = util_trim(s, strlen(s), &n);
	assert_ptr_equal(r, s + 2);
	assert_int_equal(n, 4);
	assert_memory_equal(r, "ab c", 4);

	s = "abc";
	r = util_trim(s, 3, &n);
	assert_ptr_equal(r, s);
	assert_int_equal(n, 3);

	s = "\t\n\v\f\r x\t\n\v\f\r ";
	r = util_trim(s, strlen(s), &n);
	assert_int_equal(n, 1);
	assert_int_equal(*r, 'x');
}

static void
t_trim_all_space_and_empty(void **state)
{
	const char	*s = " \t\r\n\v\f";
	size_t		 n = 99;

	(void)state;
	(void)util_trim(s, strlen(s), &n);
	assert_int_equal(n, 0);
	n = 99;
	(void)util_trim("", 0, &n);
	assert_int_equal(n, 0);
}

static void
t_trim_ascii_only(void **state)
{
	const char	*s = "\xc2\xa0x\xc2\xa0";	/* NBSP x NBSP */
	size_t		 n;

	(void)state;
	assert_ptr_equal(util_trim(s, strlen(s), &n), s);
	assert_int_equal(n, strlen(s));
	/* Only len bytes are looked at. */
	s = "ab   cd";
	assert_ptr_equal(util_trim(s, 4, &n), s);
	assert_int_equal(n, 2);
}

/* --- UUID -------------------------------------------------------------- */

static void
t_uuid_valid(void **state)
{

	(void)state;
	assert_true(util_uuid_valid("0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b"));
	assert_true(util_uuid_valid("00000000-0000-0000-0000-000000000000"));
	assert_true(util_uuid_valid("ffffffff-ffff-ffff-ffff-ffffffffffff"));
}

static void
t_uuid_rejects(void **state)
{

	(void)state;
	assert_false(util_uuid_valid(NULL));
	assert_false(util_uuid_valid(""));
	assert_false(util_uuid_valid("0B8F4C2E-3A4D-4E5F-9A6B-7C8D9E0F1A2B"));
	assert_false(util_uuid_valid("0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2B"));
	assert_false(util_uuid_valid("0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2"));
	assert_false(util_uuid_valid("0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b0"));
	assert_false(util_uuid_valid("0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b\n"));
	assert_false(util_uuid_valid("0b8f4c2e3a4d4e5f9a6b7c8d9e0f1a2b"));
	assert_false(util_uuid_valid("0b8f4c2e-3a4d-4e5f-9a6b7-c8d9e0f1a2b"));
	assert_false(util_uuid_valid("0b8f4c2e_3a4d-4e5f-9a6b-7c8d9e0f1a2b"));
	assert_false(util_uuid_valid("{0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b}"));
	assert_false(util_uuid_valid("0b8f4c2g-3a4d-4e5f-9a6b-7c8d9e0f1a2b"));
	assert_false(util_uuid_valid(" 0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b"));
	assert_false(util_uuid_valid("------------------------------------"));
}

/* --- integers ---------------------------------------------------------- */

static void
t_parse_int_ok(void **state)
{
	long long	v = -1;

	(void)state;
	assert_true(util_parse_int("0", 0, 100, &v));
	assert_int_equal(v, 0);
	assert_true(util_parse_int("42", 0, 100, &v));
	assert_int_equal(v, 42);
	assert_true(util_parse_int("007", 0, 100, &v));
	assert_int_equal(v, 7);
	assert_true(util_parse_int("-5", -10, 10, &v));
	assert_int_equal((int)v, -5);
	assert_true(util_parse_int("-0", 0, 0, &v));
	assert_int_equal(v, 0);
}

static void
t_parse_int_range(void **state)
{
	long long	v = 0;

	(void)state;
	assert_true(util_parse_int("1", 1, 100, &v));
	assert_true(util_parse_int("100", 1, 100, &v));
	assert_int_equal(v, 100);
	v = 7;
	assert_false(util_parse_int("0", 1, 100, &v));
	assert_false(util_parse_int("101", 1, 100, &v));
	assert_false(util_parse_int("-1", 0, 100, &v));
	assert_int_equal(v, 7);		/* untouched on failure */
}

static void
t_parse_int_limits(void **state)
{
	long long	v = 0;

	(void)state;
	assert_true(util_parse_int("9223372036854775807", LLONG_MIN,
	    LLONG_MAX, &v));
	assert_true(v == LLONG_MAX);
	assert_true(util_parse_int("-9223372036854775808", LLONG_MIN,
	    LLONG_MAX, &v));
	assert_true(v == LLONG_MIN);
	assert_false(util_parse_int("9223372036854775808", LLONG_MIN,
	    LLONG_MAX, &v));
	assert_false(util_parse_int("-9223372036854775809", LLONG_MIN,
	    LLONG_MAX, &v));
	assert_false(util_parse_int("99999999999999999999999", LLONG_MIN,
	    LLONG_MAX, &v));
}

/* util_format_int writes what util_parse_int reads back, and what
 * snprintf's %lld writes, at the ends of the range and around powers
 * of ten. */
static void
t_format_int(void **state)
{
	static const long long vs[] = { 0, 1, -1, 9, 10, -10, 99, 100, 12345,
		-987654321, 1000000000000LL, LLONG_MAX, LLONG_MIN,
		LLONG_MIN + 1 };
	char		       buf[UTIL_INT_LEN], want[32];
	long long	       back;

	(void)state;
	for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		size_t n = util_format_int(vs[i], buf);
		int    w = snprintf(want, sizeof(want), "%lld", vs[i]);

		assert_int_equal(n, (size_t)w);
		assert_string_equal(buf, want);
		assert_true(util_parse_int(buf, LLONG_MIN, LLONG_MAX, &back));
		assert_true(back == vs[i]);
	}
	assert_int_equal(util_format_int(LLONG_MIN, buf), UTIL_INT_LEN - 1);
}

static void
t_parse_int_rejects_syntax(void **state)
{
	static const char *const bad[] = {
		"", "-", "+1", "+", " 1", "1 ", "\t1", "1\n", "1a", "a1",
		"0x10", "1e3", "1.0", "--1", "-+1", "- 1", "1,000", "1_000",
		"\xd9\xa1",	/* ARABIC-INDIC DIGIT ONE */
	};
	long long	v;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(util_parse_int(bad[i], LLONG_MIN, LLONG_MAX, &v));
	assert_false(util_parse_int(NULL, LLONG_MIN, LLONG_MAX, &v));
}

/* --- RFC 3339 parse ---------------------------------------------------- */

/* Parses s, which must be accepted, and returns the instant. */
static int64_t
parse_ok(const char *s)
{
	int64_t	us = INT64_MIN;

	if (!util_rfc3339_parse(s, &us))
		fail_msg("rejected: \"%s\"", s == NULL ? "(null)" : s);
	return us;
}

static void
parse_bad(const char *s)
{
	int64_t	us = 12345;

	if (util_rfc3339_parse(s, &us))
		fail_msg("accepted: \"%s\"", s == NULL ? "(null)" : s);
	assert_true(us == 12345);
}

static void
t_rfc3339_examples(void **state)
{

	(void)state;
	/* The examples of RFC 3339 section 5.8. */
	assert_true(parse_ok("1985-04-12T23:20:50.52Z") ==
	    INT64_C(482196050520000));
	assert_true(parse_ok("1996-12-19T16:39:57-08:00") ==
	    INT64_C(851042397000000));
	assert_true(parse_ok("1990-12-31T23:59:60Z") ==
	    parse_ok("1991-01-01T00:00:00Z"));
	assert_true(parse_ok("1990-12-31T15:59:60-08:00") ==
	    INT64_C(662688000000000));
	assert_true(parse_ok("1937-01-01T12:00:27.87+00:20") ==
	    parse_ok("1937-01-01T11:40:27.870Z"));
	assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
}

static void
t_rfc3339_case_and_offsets(void **state)
{
	int64_t	z;

	(void)state;
	z = parse_ok("2026-11-21T09:30:00Z");
	assert_true(parse_ok("2026-11-21t09:30:00z") == z);
	assert_true(parse_ok("2026-11-21T09:30:00+00:00") == z);
	assert_true(parse_ok("2026-11-21T09:30:00-00:00") == z);
	assert_true(parse_ok("2026-11-21T15:00:00+05:30") == z);
	assert_true(parse_ok("2026-11-20T23:31:00-09:59") == z);
	assert_true(parse_ok("2026-11-22T09:29:00+23:59") == z);
	assert_true(parse_ok("2024-02-29T12:00:00+05:30") ==
	    INT64_C(1709188200000000));
}

static void
t_rfc3339_leap_years(void **state)
{

	(void)state;
	assert_true(parse_ok("2024-02-29T00:00:00Z") ==
	    parse_ok("2024-03-01T00:00:00Z") - INT64_C(86400000000));
	assert_true(parse_ok("2000-02-29T00:00:00Z") ==
	    INT64_C(951782400000000));
	(void)parse_ok("2400-02-29T00:00:00Z");
	(void)parse_ok("0004-02-29T00:00:00Z");
	parse_bad("2023-02-29T00:00:00Z");
	parse_bad("2100-02-29T00:00:00Z");
	parse_bad("1900-02-29T00:00:00Z");
	parse_bad("0001-02-29T00:00:00Z");
	parse_bad("2024-02-30T00:00:00Z");
}

static void
t_rfc3339_calendar(void **state)
{

	(void)state;
	(void)parse_ok("2023-01-31T00:00:00Z");
	(void)parse_ok("2023-04-30T00:00:00Z");
	(void)parse_ok("2023-12-31T00:00:00Z");
	(void)parse_ok("2023-02-28T00:00:00Z");
	parse_bad("2023-04-31T00:00:00Z");
	parse_bad("2023-06-31T00:00:00Z");
	parse_bad("2023-09-31T00:00:00Z");
	parse_bad("2023-11-31T00:00:00Z");
	parse_bad("2023-01-32T00:00:00Z");
	parse_bad("2023-01-00T00:00:00Z");
	parse_bad("2023-00-10T00:00:00Z");
	parse_bad("2023-13-01T00:00:00Z");
}

static void
t_rfc3339_time_fields(void **state)
{

	(void)state;
	(void)parse_ok("2023-01-01T23:59:59Z");
	(void)parse_ok("2023-01-01T00:00:00Z");
	parse_bad("2023-01-01T24:00:00Z");
	parse_bad("2023-01-01T23:60:00Z");
	parse_bad("2023-01-01T23:59:61Z");
	parse_bad("2023-01-01T99:00:00Z");
	/* Second 60 folds onto the next second, as timegm(3) does. */
	assert_true(parse_ok("2016-12-31T23:59:60Z") ==
	    parse_ok("2017-01-01T00:00:00Z"));
	assert_true(parse_ok("2017-01-01T00:00:00Z") ==
	    INT64_C(1483228800000000));
	assert_true(parse_ok("2016-12-31T23:59:60.5Z") ==
	    parse_ok("2017-01-01T00:00:00.5Z"));
}

static void
t_rfc3339_fraction(void **state)
{
	int64_t	base;

	(void)state;
	base = parse_ok("2023-01-01T00:00:00Z");
	assert_true(parse_ok("2023-01-01T00:00:00.1Z") - base == 100000);
	assert_true(parse_ok("2023-01-01T00:00:00.12Z") - base == 120000);
	assert_true(parse_ok("2023-01-01T00:00:00.123Z") - base == 123000);
	assert_true(parse_ok("2023-01-01T00:00:00.1234Z") - base == 123400);
	assert_true(parse_ok("2023-01-01T00:00:00.12345Z") - base == 123450);
	assert_true(parse_ok("2023-01-01T00:00:00.123456Z") - base == 123456);
	assert_true(parse_ok("2023-01-01T00:00:00.1234567Z") - base == 123456);
	assert_true(parse_ok("2023-01-01T00:00:00.12345678Z") - base ==
	    123456);
	assert_true(parse_ok("2023-01-01T00:00:00.999999999Z") - base ==
	    999999);
	assert_true(parse_ok("2023-01-01T00:00:00.000000000Z") == base);
	assert_true(parse_ok("2023-01-01T00:00:00.5+01:00") - base ==
	    INT64_C(-3600000000) + 500000);
	parse_bad("2023-01-01T00:00:00.1234567891Z");
	parse_bad("2023-01-01T00:00:00.Z");
	parse_bad("2023-01-01T00:00:00,5Z");
	parse_bad("2023-01-01T00:00:00.5.5Z");
}

static void
t_rfc3339_missing_parts(void **state)
{

	(void)state;
	parse_bad("2024-01-01T10:00Z");
	parse_bad("2024-01-01T10Z");
	parse_bad("2024-01-01");
	parse_bad("2024-01-01T");
	parse_bad("2024-01-01T10:00:00");
	parse_bad("T10:00:00Z");
	parse_bad("10:00:00Z");
	parse_bad("2024-01T10:00:00Z");
	parse_bad("");
	parse_bad(NULL);
}

static void
t_rfc3339_rejects_words(void **state)
{

	(void)state;
	parse_bad("now");
	parse_bad("today");
	parse_bad("epoch");
	parse_bad("infinity");
	parse_bad("-infinity");
	parse_bad("allballs");
	parse_bad("NaN");
}

static void
t_rfc3339_rejects_separators(void **state)
{

	(void)state;
	parse_bad("2024-01-01 10:00:00Z");
	parse_bad("2024-01-01_10:00:00Z");
	parse_bad("2024-01-0110:00:00Z");
	parse_bad("2024/01/01T10:00:00Z");
	parse_bad("20240101T100000Z");
	parse_bad("2024-01-01T10.00.00Z");
}

static void
t_rfc3339_rejects_trailing(void **state)
{

	(void)state;
	parse_bad("2024-01-01T10:00:00Z ");
	parse_bad("2024-01-01T10:00:00Z\n");
	parse_bad("2024-01-01T10:00:00Zx");
	parse_bad("2024-01-01T10:00:00ZZ");
	parse_bad("2024-01-01T10:00:00+01:00:00");
	parse_bad("2024-01-01T10:00:00+01:00Z");
	parse_bad(" 2024-01-01T10:00:00Z");
}

static void
t_rfc3339_rejects_bad_offsets(void **state)
{

	(void)state;
	parse_bad("2024-01-01T10:00:00+24:00");
	parse_bad("2024-01-01T10:00:00+01:60");
	parse_bad("2024-01-01T10:00:00+0100");
	parse_bad("2024-01-01T10:00:00+01");
	parse_bad("2024-01-01T10:00:00+1:00");
	parse_bad("2024-01-01T10:00:00+01:0");
	parse_bad("2024-01-01T10:00:00UTC");
	parse_bad("2024-01-01T10:00:00GMT");
	parse_bad("2024-01-01T10:00:00 +01:00");
	parse_bad("2024-01-01T10:00:00\xe2\x88\x92" "01:00");	/* U+2212 */
}

static void
t_rfc3339_rejects_digits(void **state)
{

	(void)state;
	parse_bad("2024-1-01T10:00:00Z");
	parse_bad("2024-01-1T10:00:00Z");
	parse_bad("2024-01-01T1:00:00Z");
	parse_bad("2024-0a-01T10:00:00Z");
	parse_bad("24-01-01T10:00:00Z");
	parse_bad("+2024-01-01T10:00:00Z");
	parse_bad("-2024-01-01T10:00:00Z");
	parse_bad("12024-01-01T10:00:00Z");
}

static void
t_rfc3339_year_range(void **state)
{

	(void)state;
	assert_true(parse_ok("0001-01-01T00:00:00Z") ==
	    INT64_C(-62135596800000000));
	assert_true(parse_ok("9999-12-31T23:59:59.999999Z") ==
	    INT64_C(253402300799999999));
	parse_bad("0000-01-01T00:00:00Z");
	parse_bad("0000-12-31T23:59:59Z");
	/* In range locally but not in UTC: not representable, rejected. */
	parse_bad("0001-01-01T00:00:00+00:01");
	parse_bad("9999-12-31T23:59:59-00:01");
	parse_bad("9999-12-31T23:59:60Z");
	(void)parse_ok("0001-01-01T00:00:00-00:01");
	(void)parse_ok("9999-12-31T23:59:59+00:01");
}

/* --- RFC 3339 format --------------------------------------------------- */

/* Formats us, which must succeed, and compares with want. */
static void
format_is(int64_t us, const char *want)
{
	char	out[LIM_TIMESTAMP_LEN + 1];

	assert_true(util_rfc3339_format(us, out, sizeof(out)));
	assert_string_equal(out, want);
}

static void
t_format_known(void **state)
{

	(void)state;
	format_is(0, "1970-01-01T00:00:00.000000Z");
	format_is(INT64_C(1700000000123456), "2023-11-14T22:13:20.123456Z");
	format_is(INT64_C(482196050520000), "1985-04-12T23:20:50.520000Z");
	format_is(INT64_C(951782400000000), "2000-02-29T00:00:00.000000Z");
	format_is(INT64_C(1709188200000000), "2024-02-29T06:30:00.000000Z");
}

static void
t_format_before_epoch(void **state)
{

	(void)state;
	format_is(-1, "1969-12-31T23:59:59.999999Z");
	format_is(INT64_C(-1000000), "1969-12-31T23:59:59.000000Z");
	format_is(INT64_C(-86400000000), "1969-12-31T00:00:00.000000Z");
	format_is(INT64_C(-86400000001), "1969-12-30T23:59:59.999999Z");
}

static void
t_format_range(void **state)
{
	char	out[64];

	(void)state;
	format_is(INT64_C(-62135596800000000), "0001-01-01T00:00:00.000000Z");
	format_is(INT64_C(253402300799999999), "9999-12-31T23:59:59.999999Z");
	assert_false(util_rfc3339_format(INT64_C(-62135596800000001), out,
	    sizeof(out)));
	assert_false(util_rfc3339_format(INT64_C(253402300800000000), out,
	    sizeof(out)));
	assert_false(util_rfc3339_format(INT64_MIN, out, sizeof(out)));
	assert_false(util_rfc3339_format(INT64_MAX, out, sizeof(out)));
}

static void
t_format_buffer_size(void **state)
{
	char	out[LIM_TIMESTAMP_LEN + 1];

	(void)state;
	assert_false(util_rfc3339_format(0, out, LIM_TIMESTAMP_LEN));
	assert_false(util_rfc3339_format(0, out, 0));
	assert_false(util_rfc3339_format(0, NULL, 100));
	assert_true(util_rfc3339_format(0, out, LIM_TIMESTAMP_LEN + 1));
	assert_int_equal(strlen(out), LIM_TIMESTAMP_LEN);
}

/* --- round trips and the timegm sweep ---------------------------------- */

static void
t_round_trip_parse_format(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
	} cases[] = {
		{ "2026-11-21T09:30:00.123456Z",
		    "2026-11-21T09:30:00.123456Z" },
		{ "2026-11-21T09:30:00Z", "2026-11-21T09:30:00.000000Z" },
		{ "2026-11-21t10:30:00.1+01:00",
		    "2026-11-21T09:30:00.100000Z" },
		{ "2024-03-01T01:00:00+02:00", "2024-02-29T23:00:00.000000Z" },
		{ "2023-12-31T20:00:00-05:00", "2024-01-01T01:00:00.000000Z" },
		{ "1969-12-31T23:59:59.999999999Z",
		    "1969-12-31T23:59:59.999999Z" },
		{ "2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000000Z" },
	};
	char	out[LIM_TIMESTAMP_LEN + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_true(util_rfc3339_format(parse_ok(cases[i].in), out,
		    sizeof(out)));
		assert_string_equal(out, cases[i].out);
		/* The canonical form is a fixed point. */
		assert_true(parse_ok(out) == parse_ok(cases[i].in));
	}
}

/*
 * Our parse must agree with timegm(3) and format must give the same
 * text back.  Every day of a full 400-year Gregorian cycle and of the
 * years around the epoch and both ends of the range; the first and
 * last day of each month of all the other years.
 */
static void
t_sweep_against_timegm(void **state)
{
	char		in[64], out[LIM_TIMESTAMP_LEN + 1];
	struct tm	tm;
	time_t		t;
	int64_t		us;
	int		y, m, d, mdays;
	static const int ml[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	(void)state;
	for (y = 1; y <= 9999; y++) {
		int	full = y <= 401 || (y >= 1899 && y <= 2101) ||
		    y >= 9599;

		for (m = 1; m <= 12; m++) {
			mdays = ml[m - 1];
			if (m == 2 && ((y % 4 == 0 && y % 100 != 0) ||
			    y % 400 == 0))
				mdays = 29;
			for (d = 1; d <= mdays; d++) {
				if (!full && d != 1 && d != mdays)
					continue;
				snprintf(in, sizeof(in),
				    "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
				    y, m, d, d % 24, (d * 7) % 60,
				    (d * 13) % 60, d * 3);
				memset(&tm, 0, sizeof(tm));
				tm.tm_year = y - 1900;
				tm.tm_mon = m - 1;
				tm.tm_mday = d;
				tm.tm_hour = d % 24;
				tm.tm_min = (d * 7) % 60;
				tm.tm_sec = (d * 13) % 60;
				t = timegm(&tm);
				if (!util_rfc3339_parse(in, &us))
					fail_msg("rejected %s", in);
				if (us != (int64_t)t * 1000000 + d * 3)
					fail_msg("%s: %lld != timegm %lld", in,
					    (long long)us, (long long)t);
				assert_true(util_rfc3339_format(us, out,
				    sizeof(out)));
				if (strcmp(in, out) != 0)
					fail_msg("%s formats as %s", in, out);
			}
			/* The day after the last one is rejected. */
			snprintf(in, sizeof(in), "%04d-%02d-%02dT00:00:00Z",
			    y, m, mdays + 1);
			parse_bad(in);
		}
	}
}

/* --- clocks ------------------------------------------------------------ */

static void
t_now_us(void **state)
{
	int64_t	a, b;
	time_t	t;

	(void)state;
	t = time(NULL);
	a = util_now_us();
	/* Agrees with time(2) to within two seconds. */
	assert_true(a / 1000000 >= (int64_t)t - 2);
	assert_true(a / 1000000 <= (int64_t)t + 2);
	b = util_now_us();
	assert_true(b >= a - 1000000);
}

static void
t_mono_us(void **state)
{
	struct timespec	ts = { 0, 20 * 1000 * 1000 };	/* 20 ms */
	int64_t		a, b;

	(void)state;
	a = util_mono_us();
	assert_true(a > 0);
	assert_int_equal(nanosleep(&ts, NULL), 0);
	b = util_mono_us();
	assert_true(b - a >= 20000);
	assert_true(b - a < 10 * 1000000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_utf8_valid_plain),
		cmocka_unit_test(t_utf8_valid_boundaries),
		cmocka_unit_test(t_utf8_rejects_overlong),
		cmocka_unit_test(t_utf8_rejects_surrogates),
		cmocka_unit_test(t_utf8_rejects_above_max),
		cmocka_unit_test(t_utf8_rejects_stray_continuation),
		cmocka_unit_test(t_utf8_rejects_truncated),
		cmocka_unit_test(t_utf8_rejects_nul),
		cmocka_unit_test(t_utf8_count),
		cmocka_unit_test(t_trim),
		cmocka_unit_test(t_trim_all_space_and_empty),
		cmocka_unit_test(t_trim_ascii_only),
		cmocka_unit_test(t_uuid_valid),
		cmocka_unit_test(t_uuid_rejects),
		cmocka_unit_test(t_parse_int_ok),
		cmocka_unit_test(t_parse_int_range),
		cmocka_unit_test(t_parse_int_limits),
		cmocka_unit_test(t_parse_int_rejects_syntax),
		cmocka_unit_test(t_format_int),
		cmocka_unit_test(t_rfc3339_examples),
		cmocka_unit_test(t_rfc3339_case_and_offsets),
		cmocka_unit_test(t_rfc3339_leap_years),
		cmocka_unit_test(t_rfc3339_calendar),
		cmocka_unit_test(t_rfc3339_time_fields),
		cmocka_unit_test(t_rfc3339_fraction),
		cmocka_unit_test(t_rfc3339_missing_parts),
		cmocka_unit_test(t_rfc3339_rejects_words),
		cmocka_unit_test(t_rfc3339_rejects_separators),
		cmocka_unit_test(t_rfc3339_rejects_trailing),
		cmocka_unit_test(t_rfc3339_rejects_bad_offsets),
		cmocka_unit_test(t_rfc3339_rejects_digits),
		cmocka_unit_test(t_rfc3339_year_range),
		cmocka_unit_test(t_format_known),
		cmocka_unit_test(t_format_before_epoch),
		cmocka_unit_test(t_format_range),
		cmocka_unit_test(t_format_buffer_size),
		cmocka_unit_test(t_round_trip_parse_format),
		cmocka_unit_test(t_sweep_against_timegm),
		cmocka_unit_test(t_now_us),
		cmocka_unit_test(t_mono_us),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
