/*
 * t_query.c: unit tests for query.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api_limits.h"
#include "query.h"

/* Parses qs, which must succeed with n parameters. */
static void
parse_ok(struct query *q, const char *qs, size_t n)
{

	if (query_parse(qs, q) != 0)
		fail_msg("rejected: \"%s\"", qs == NULL ? "(null)" : qs);
	assert_int_equal(q->n, n);
}

/* Parses qs, which must fail and leave no parameters. */
static void
parse_bad(struct query *q, const char *qs)
{

	if (query_parse(qs, q) != -1)
		fail_msg("accepted: \"%s\"", qs == NULL ? "(null)" : qs);
	assert_int_equal(q->n, 0);
}

/* The value of key, which must appear exactly once. */
static const char *
get1(const struct query *q, const char *key)
{
	const char	*v;
	int		 count = -1;

	v = query_get(q, key, &count);
	assert_int_equal(count, 1);
	assert_non_null(v);
	return v;
}

static void
t_empty(void **state)
{
	struct query	q;

	(void)state;
	parse_ok(&q, NULL, 0);
	parse_ok(&q, "", 0);
	parse_ok(&q, "&", 0);
	parse_ok(&q, "&&&", 0);
}

static void
t_simple(void **state)
{
	struct query	q;

	(void)state;
	parse_ok(&q, "limit=10&offset=20", 2);
	assert_string_equal(q.params[0].key, "limit");
	assert_string_equal(q.params[0].val, "10");
	assert_string_equal(get1(&q, "offset"), "20");
	assert_string_equal(get1(&q, "limit"), "10");
}

static void
t_empty_pairs_skipped(void **state)
{
	struct query	q;

	(void)state;
	parse_ok(&q, "a=1&&b=2", 2);
	assert_string_equal(get1(&q, "a"), "1");
	assert_string_equal(get1(&q, "b"), "2");
	parse_ok(&q, "&a=1", 1);
	parse_ok(&q, "a=1&", 1);
	parse_ok(&q, "&&a=1&&", 1);
	assert_string_equal(get1(&q, "a"), "1");
}

static void
t_key_without_value(void **state)
{
	struct query	q;

	(void)state;
	parse_ok(&q, "a&b=&c=3", 3);
	assert_string_equal(get1(&q, "a"), "");
	assert_string_equal(get1(&q, "b"), "");
	assert_string_equal(get1(&q, "c"), "3");
	parse_ok(&q, "=1", 1);
	assert_string_equal(get1(&q, ""), "1");
	parse_ok(&q, "a==b", 1);
	assert_string_equal(get1(&q, "a"), "=b");
}

static void
t_plus_and_percent(void **state)
{
	struct query	q;

	(void)state;
	parse_ok(&q, "q=a+b%20c&p=%2B%2b&x%3Dy=%26&%61%62=1", 4);
	assert_string_equal(get1(&q, "q"), "a b c");
	assert_string_equal(get1(&q, "p"), "++");
	assert_string_equal(get1(&q, "x=y"), "&");	/* not separators */
	assert_string_equal(get1(&q, "ab"), "1");
	parse_ok(&q, "s=%C3%A9t%c3%a9", 1);
	assert_string_equal(get1(&q, "s"), "\xc3\xa9t\xc3\xa9");
	parse_ok(&q, "a=1;b=2", 1);			/* ';' is data */
	assert_string_equal(get1(&q, "a"), "1;b=2");
}

static void
t_raw_bytes_pass_through(void **state)
{
	struct query	q;

	(void)state;
	/* Not UTF-8: callers validate values, this only decodes. */
	parse_ok(&q, "a=%FF%c0%80&b=\xe2\x82\xac", 2);
	assert_string_equal(get1(&q, "a"), "\xff\xc0\x80");
	assert_string_equal(get1(&q, "b"), "\xe2\x82\xac");
}

static void
t_bad_escapes(void **state)
{
	static const char *const bad[] = {
		"%", "a=%", "a=%2", "a=1%2", "%2=1", "a=%zz", "a=%g0",
		"a=%0g", "a=%%41", "a=% 1", "a=%+1", "a=%-1", "ok=1&a=%",
		"a=%\xc3\xa9",
	};
	struct query	q;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(&q, bad[i]);
	parse_ok(&q, "a=%41", 1);
	assert_string_equal(get1(&q, "a"), "A");
}

static void
t_decoded_nul(void **state)
{
	struct query	q;

	(void)state;
	parse_bad(&q, "a=%00");
	parse_bad(&q, "%00=1");
	parse_bad(&q, "a=x%00y");
	parse_bad(&q, "ok=1&a=%00");
	parse_ok(&q, "a=%01", 1);
	assert_string_equal(get1(&q, "a"), "\x01");
}

static void
t_pair_limit(void **state)
{
	char		qs[512];
	struct query	q;
	size_t		i, len = 0;

	(void)state;
	qs[0] = '\0';
	for (i = 0; i < LIM_QUERY_PARAMS; i++) {
		int	n = snprintf(qs + len, sizeof(qs) - len, "%sk%zu=%zu",
		    i == 0 ? "" : "&", i, i);
		assert_true(n > 0);
		len += (size_t)n;
	}
	parse_ok(&q, qs, LIM_QUERY_PARAMS);
	assert_string_equal(get1(&q, "k15"), "15");
	/* Empty pairs do not count. */
	strcat(qs, "&&");
	parse_ok(&q, qs, LIM_QUERY_PARAMS);
	/* One more real pair does. */
	strcat(qs, "x");
	parse_bad(&q, qs);
}

static void
t_length_limit(void **state)
{
	char		qs[LIM_QUERY_MAX + 2];
	struct query	q;

	(void)state;
	/* "a=" and 2046 'x': exactly LIM_QUERY_MAX, fills buf to the byte. */
	memset(qs, 'x', sizeof(qs));
	qs[0] = 'a';
	qs[1] = '=';
	qs[LIM_QUERY_MAX] = '\0';
	parse_ok(&q, qs, 1);
	assert_int_equal(strlen(get1(&q, "a")), LIM_QUERY_MAX - 2);
	/* One byte more. */
	qs[LIM_QUERY_MAX] = 'x';
	qs[LIM_QUERY_MAX + 1] = '\0';
	parse_bad(&q, qs);
}

/* The limit is on the raw string, not on what it decodes to. */
static void
t_length_limit_before_decoding(void **state)
{
	char		qs[LIM_QUERY_MAX + 2];
	struct query	q;
	size_t		i;

	(void)state;
	qs[0] = 'a';
	qs[1] = '=';
	for (i = 2; i + 3 <= LIM_QUERY_MAX + 1; i += 3)
		memcpy(qs + i, "%41", 3);
	while (i < LIM_QUERY_MAX + 1)
		qs[i++] = 'x';
	qs[i] = '\0';
	assert_int_equal(strlen(qs), LIM_QUERY_MAX + 1);
	parse_bad(&q, qs);
	qs[LIM_QUERY_MAX] = '\0';
	parse_ok(&q, qs, 1);
	assert_true(strlen(get1(&q, "a")) < LIM_QUERY_MAX / 2);
}

static void
t_length_limit_many_short(void **state)
{
	char		qs[LIM_QUERY_MAX + 1];
	struct query	q;
	size_t		i;

	(void)state;
	/*
	 * 16 pairs "=" and "k" of almost the whole length: the most
	 * terminators the buffer can be asked to hold.
	 */
	memset(qs, 'k', sizeof(qs));
	for (i = 0; i < LIM_QUERY_PARAMS - 1; i++) {
		qs[2 * i] = '=';
		qs[2 * i + 1] = '&';
	}
	qs[LIM_QUERY_MAX] = '\0';
	parse_ok(&q, qs, LIM_QUERY_PARAMS);
	assert_string_equal(q.params[0].key, "");
	assert_string_equal(q.params[0].val, "");
	assert_int_equal(strlen(q.params[LIM_QUERY_PARAMS - 1].key),
	    LIM_QUERY_MAX - 2 * (LIM_QUERY_PARAMS - 1));
}

static void
t_get_counts(void **state)
{
	struct query	 q;
	const char	*v;
	int		 count = -1;

	(void)state;
	parse_ok(&q, "a=1&b=2&a=3&A=4", 4);
	v = query_get(&q, "a", &count);
	assert_int_equal(count, 2);
	assert_string_equal(v, "1");
	assert_string_equal(get1(&q, "A"), "4");	/* case matters */
	v = query_get(&q, "c", &count);
	assert_int_equal(count, 0);
	assert_null(v);
	v = query_get(&q, "", &count);
	assert_int_equal(count, 0);
	assert_null(v);
}

static void
t_failure_resets(void **state)
{
	struct query	 q;
	int		 count = -1;

	(void)state;
	parse_ok(&q, "a=1", 1);
	parse_bad(&q, "a=1&b=%zz");
	assert_null(query_get(&q, "a", &count));
	assert_int_equal(count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_empty),
		cmocka_unit_test(t_simple),
		cmocka_unit_test(t_empty_pairs_skipped),
		cmocka_unit_test(t_key_without_value),
		cmocka_unit_test(t_plus_and_percent),
		cmocka_unit_test(t_raw_bytes_pass_through),
		cmocka_unit_test(t_bad_escapes),
		cmocka_unit_test(t_decoded_nul),
		cmocka_unit_test(t_pair_limit),
		cmocka_unit_test(t_length_limit),
		cmocka_unit_test(t_length_limit_before_decoding),
		cmocka_unit_test(t_length_limit_many_short),
		cmocka_unit_test(t_get_counts),
		cmocka_unit_test(t_failure_resets),
	};

	return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
