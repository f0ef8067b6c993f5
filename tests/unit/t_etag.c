/*
 * t_etag.c: unit tests for etag.c and idempotency.c's key rules (cmocka;
 * TAP with CMOCKA_MESSAGE_OUTPUT=TAP).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "etag.h"
#include "idempotency.h"

static struct etag_list
parse_ok(const char *v)
{
	struct etag_list l;
	char		 err[256];

	if (etag_parse(v, "If-Match", &l, err, sizeof(err)) != TERR_OK)
		fail_msg("rejected: \"%s\": %s", v, err);
	return l;
}

static void
parse_bad(const char *v)
{
	struct etag_list l;
	char		 err[256] = "";

	if (etag_parse(v, "If-Match", &l, err, sizeof(err)) != TERR_INVALID)
		fail_msg("accepted: \"%s\"", v);
	assert_non_null(strstr(err, "If-Match"));
}

static void
t_absent_and_star(void **state)
{
	struct etag_list l;

	(void)state;
	l = parse_ok(NULL);
	assert_false(l.present);
	l = parse_ok("*");
	assert_true(l.present && l.star);
	l = parse_ok("  *\t");
	assert_true(l.star);
	assert_true(etag_match_strong(&l, 7) && etag_match_weak(&l, 7));
}

static void
t_lists(void **state)
{
	struct etag_list l;

	(void)state;
	l = parse_ok("\"3\"");
	assert_int_equal(l.n, 1);
	assert_true(etag_match_strong(&l, 3));
	assert_false(etag_match_strong(&l, 4));
	l = parse_ok("\"9\", W/\"3\" ,, \"x-not-ours\", \"\",\"12\"");
	assert_int_equal(l.n, 3); /* 9, W/3, 12: the others never match */
	assert_false(etag_match_strong(&l, 3)); /* weak: never for If-Match */
	assert_true(etag_match_weak(&l, 3));	/* but for If-None-Match */
	assert_true(etag_match_strong(&l, 12));
	assert_false(etag_match_strong(&l, 0));
	/* Not our form: leading zeros, zero, too long, signs. */
	l = parse_ok("\"03\", \"0\", \"1234567890123456789\", \"-1\"");
	assert_int_equal(l.n, 0);
	l = parse_ok(",");
	assert_true(l.present);
	assert_int_equal(l.n, 0);
}

static void
t_malformed(void **state)
{
	char   big[ETAG_LIST_MAX * 5 + 16];
	size_t off = 0;

	(void)state;
	parse_bad("3");
	parse_bad("\"3");
	parse_bad("W/3");
	parse_bad("w/\"3\"");
	parse_bad("\"3\" \"4\"");
	parse_bad("*, \"3\"");
	parse_bad("**");
	parse_bad("\"a b\"");
	parse_bad("\"3\"x");
	for (int i = 0; i <= ETAG_LIST_MAX; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "\"%d\",",
		    i + 1);
	parse_bad(big);
}

static void
t_set(void **state)
{
	struct resp r;

	(void)state;
	memset(&r, 0, sizeof(r));
	etag_set(&r, 0);
	assert_string_equal(r.etag, "");
	etag_set(&r, 42);
	assert_string_equal(r.etag, "\"42\"");
	etag_set(&r, INT64_MAX / 10);
	assert_string_equal(r.etag, "\"922337203685477580\"");
}

/* The plan's two precondition parameters. */
static void
t_plan_write(void **state)
{
	struct req  r;
	struct plan p;
	char	    err[256];

	(void)state;
	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	assert_int_equal(etag_plan_write(&r, false, &p, err, sizeof(err)),
	    TERR_OK);
	assert_int_equal(p.nparams, 2);
	assert_null(p.values[0]);
	assert_null(p.values[1]);
	assert_int_equal(etag_plan_write(&r, true, &p, err, sizeof(err)),
	    TERR_PRECONDITION);

	plan_reset(&p);
	r.if_match = "\"2\", W/\"5\", \"7\"";
	r.if_none_match = "W/\"9\"";
	assert_int_equal(etag_plan_write(&r, true, &p, err, sizeof(err)),
	    TERR_OK);
	assert_string_equal(p.values[0], "{2,7}");
	assert_string_equal(p.values[1], "{9}");

	plan_reset(&p);
	r.if_match = "*";
	r.if_none_match = "*";
	assert_int_equal(etag_plan_write(&r, false, &p, err, sizeof(err)),
	    TERR_OK);
	assert_string_equal(p.values[0], "{}");
	assert_null(p.values[1]);

	plan_reset(&p);
	r.if_match = "W/\"2\"";
	r.if_none_match = NULL;
	assert_int_equal(etag_plan_write(&r, false, &p, err, sizeof(err)),
	    TERR_OK);
	assert_string_equal(p.values[0], "{}"); /* a weak tag never matches */
	plan_free(&p);
}

static void
t_idempotency_key(void **state)
{
	struct conf   c;
	struct req    r;
	struct plan   p;
	char	      err[256], key[300], h1[65];
	unsigned char secret[] = "0123456789abcdef0123456789abcdef";
	char	      bx[] = "{\"title\":\"x\"}", by[] = "{\"title\":\"y\"}";
	bool	      keyed;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.jwt_secret = secret;
	c.jwt_secret_len = 32;
	memset(&r, 0, sizeof(r));
	memset(&p, 0, sizeof(p));
	r.body.p = bx;
	r.body.len = strlen(bx);

	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_OK);
	assert_false(keyed);
	assert_int_equal(p.nparams, 0);

	r.idempotency_key = "k 1~";
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_OK);
	assert_true(keyed);
	assert_string_equal(p.values[0], "k 1~");
	assert_int_equal(strlen(p.values[1]), 64);
	memcpy(h1, p.values[1], 65);

	/* Another body, another hash; the same body, the same hash. */
	plan_reset(&p);
	r.body.p = by;
	r.body.len = strlen(by);
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_OK);
	assert_string_not_equal(p.values[1], h1);
	plan_reset(&p);
	r.body.p = bx;
	r.body.len = strlen(bx);
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_OK);
	assert_string_equal(p.values[1], h1);

	memset(key, 'k', 255);
	key[255] = '\0';
	r.idempotency_key = key;
	plan_reset(&p);
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_OK);
	key[255] = 'k';
	key[256] = '\0';
	plan_reset(&p);
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_INVALID);
	r.idempotency_key = "";
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_INVALID);
	r.idempotency_key = "tab\there";
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_INVALID);
	r.idempotency_key = "caf\xc3\xa9";
	assert_int_equal(idem_plan(&c, &r, &p, &keyed, err, sizeof(err)),
	    TERR_INVALID);
	assert_false(keyed);
	plan_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_absent_and_star),
		cmocka_unit_test(t_lists),
		cmocka_unit_test(t_malformed),
		cmocka_unit_test(t_set),
		cmocka_unit_test(t_plan_write),
		cmocka_unit_test(t_idempotency_key),
	};

	return cmocka_run_group_tests_name("etag", tests, NULL, NULL);
}
