/*
 * t_valid.c: body parsing and the field rules, each both ways.
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

#include "api_limits.h"
#include "valid.h"

static struct json_object *
parse_ok(const char *s)
{
	struct json_object	*o = NULL;
	char			 err[256] = "";

	if (valid_parse_body(s, strlen(s), &o, err, sizeof(err)) != TERR_OK)
		fail_msg("rejected %s: %s", s, err);
	assert_non_null(o);
	return o;
}

static void
parse_bad_len(const char *s, size_t len)
{
	struct json_object	*o = NULL;
	char			 err[256] = "";

	if (valid_parse_body(s, len, &o, err, sizeof(err)) != TERR_INVALID)
		fail_msg("accepted a bad body (%zu bytes)", len);
	assert_null(o);
	assert_true(err[0] != '\0');
}

static void
parse_bad(const char *s)
{
	parse_bad_len(s, strlen(s));
}

static void
test_body_accepts_objects(void **state)
{
	(void)state;
	json_object_put(parse_ok("{}"));
	json_object_put(parse_ok(" {\"a\": 1}\n"));
	json_object_put(parse_ok("{\"t\":\"\\u00e9\\ud83d\\ude00\"}"));
	json_object_put(parse_ok("{\"t\":\"caf\xc3\xa9\"}"));
	/* Equal keys in nested objects are not ours to judge. */
	json_object_put(parse_ok("{\"a\":{\"b\":1},\"c\":{\"b\":2}}"));
}

static void
test_body_refuses(void **state)
{
	char	 deep[LIM_JSON_DEPTH * 6 + 16];
	size_t	 off = 0;

	(void)state;
	parse_bad("");
	parse_bad("[]");
	parse_bad("\"x\"");
	parse_bad("42");
	parse_bad("null");
	parse_bad("{");
	parse_bad("{\"a\":1}x");
	parse_bad("{\"a\":1}{}");
	parse_bad("{'a':1}");
	parse_bad("{\"a\":1,}");
	parse_bad("{\"a\":01}");
	parse_bad("{\"a\":NaN}");
	parse_bad("{\"t\":\"\xc3\"}");		/* truncated UTF-8 */
	parse_bad("{\"t\":\"\xc0\x80\"}");		/* overlong */
	parse_bad("{\"t\":\"\xed\xa0\x80\"}");	/* surrogate */
	parse_bad("{\"t\":\"\xff\"}");
	parse_bad("{\"t\":\"\\ud800\"}");		/* lone high surrogate */
	parse_bad("{\"t\":\"\\udc00x\"}");		/* lone low surrogate */
	parse_bad("{\"t\":\"\\ud800\\u0041\"}");	/* high + non-low */
	parse_bad("{\"t\":\"tab\there\"}");		/* raw control char */
	parse_bad("{\"t\":\"\\x41\"}");		/* bad escape */
	parse_bad("{\"a\":1e}");
	parse_bad("{\"a\":-}");
	parse_bad("{\"a\":.5}");
	parse_bad("{\"a\":tru}");
	parse_bad("{\"a\" 1}");
	parse_bad("{\"a\":1,\"a\":2}");		/* duplicate key */
	parse_bad("{\"a\":1,\"\\u0061\":2}");	/* the same key, escaped */
	parse_bad_len("{\"t\":\"a\0b\"}", 10);		/* raw NUL */
	/* Nested deeper than the limit. */
	for (int i = 0; i < LIM_JSON_DEPTH + 2; i++)
		off += (size_t)snprintf(deep + off, sizeof(deep) - off, "{\"a\":");
	snprintf(deep + off, sizeof(deep) - off, "1");
	off = strlen(deep);
	for (int i = 0; i < LIM_JSON_DEPTH + 2 && off + 1 < sizeof(deep); i++)
		deep[off++] = '}';
	deep[off] = '\0';
	parse_bad(deep);
}

static const char *const colors[] = { "red", "green", NULL };

static const struct vfield fields[] = {
	{ "title", VK_TEXT, VF_REQUIRED | VF_TRIM, 1, 5, NULL },
	{ "note", VK_TEXT, VF_NULLABLE, 0, 3, NULL },
	{ "color", VK_ENUM, 0, 0, 0, colors },
	{ "when", VK_TIMESTAMP, VF_NULLABLE, 0, 0, NULL },
	{ "email", VK_EMAIL, 0, 3, 10, NULL },
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

static enum terr
check(const char *body, struct vvalue *v)
{
	struct json_object	*o = parse_ok(body);
	char			 err[256] = "";
	enum terr		 e;

	e = valid_fields(o, fields, NFIELDS, v, err, sizeof(err));
	if (e != TERR_OK)
		assert_true(err[0] != '\0');
	json_object_put(o);
	return e;
}

static void
test_fields_ok(void **state)
{
	struct vvalue	 v[NFIELDS];

	(void)state;
	assert_int_equal(check("{\"title\":\"  ab  \",\"other\":[1]}", v),
	    TERR_OK);
	assert_true(v[0].present);
	assert_int_equal(v[0].len, 2);
	assert_memory_equal(v[0].str, "ab", 2);
	assert_false(v[1].present);
	/* Code points, not bytes: five 2-byte characters fit in 5. */
	assert_int_equal(check("{\"title\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\"}", v), TERR_OK);
	assert_int_equal(check("{\"title\":\"x\",\"note\":null}", v), TERR_OK);
	assert_true(v[1].present && v[1].is_null);
	assert_int_equal(check("{\"title\":\"x\",\"note\":\"\"}", v), TERR_OK);
	assert_int_equal(check("{\"title\":\"x\",\"color\":\"green\"}", v),
	    TERR_OK);
	assert_int_equal(check("{\"title\":\"x\",\"when\":"
	    "\"2026-11-21T10:30:00+01:00\"}", v), TERR_OK);
	assert_true(v[3].ts == 1795253400LL * 1000000);
	assert_int_equal(check("{\"title\":\"x\",\"email\":\"a@b.c\"}", v),
	    TERR_OK);
}

static void
test_fields_refused(void **state)
{
	static const char *const bad[] = {
		"{}",					/* title required */
		"{\"title\":null}",			/* not nullable */
		"{\"title\":\"   \"}",			/* empty after trim */
		"{\"title\":\"abcdef\"}",		/* 6 > 5 */
		"{\"title\":5}",
		"{\"title\":true}",
		"{\"title\":[\"a\"]}",
		"{\"title\":{\"a\":1}}",
		"{\"title\":\"a\\u0000b\"}",		/* escaped NUL */
		"{\"title\":\"x\",\"note\":\"abcd\"}",	/* 4 > 3 */
		"{\"title\":\"x\",\"note\":1}",
		"{\"title\":\"x\",\"color\":\"blue\"}",
		"{\"title\":\"x\",\"color\":\"Red\"}",
		"{\"title\":\"x\",\"color\":null}",
		"{\"title\":\"x\",\"color\":\"\"}",
		"{\"title\":\"x\",\"when\":\"tomorrow\"}",
		"{\"title\":\"x\",\"when\":\"now\"}",
		"{\"title\":\"x\",\"when\":\"2026-02-30T00:00:00Z\"}",
		"{\"title\":\"x\",\"when\":1795253400}",
		"{\"title\":\"x\",\"email\":\"nope\"}",
		"{\"title\":\"x\",\"email\":\"a@@b\"}",
		"{\"title\":\"x\",\"email\":\"@b.c\"}",
		"{\"title\":\"x\",\"email\":\"a@\"}",
		"{\"title\":\"x\",\"email\":\"a b@c.d\"}",
		"{\"title\":\"x\",\"email\":\"a@b.cdefghij\"}",	/* 11 > 10 */
	};
	struct vvalue	 v[NFIELDS];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (check(bad[i], v) != TERR_INVALID)
			fail_msg("accepted %s", bad[i]);
}

static void
test_content_type(void **state)
{
	(void)state;
	assert_true(valid_json_content_type("application/json"));
	assert_true(valid_json_content_type("application/json; charset=utf-8"));
	assert_true(valid_json_content_type("Application/JSON;charset=UTF-8"));
	assert_true(valid_json_content_type("application/json; charset=\"utf-8\""));
	assert_false(valid_json_content_type(NULL));
	assert_false(valid_json_content_type(""));
	assert_false(valid_json_content_type("text/plain"));
	assert_false(valid_json_content_type("application/jsonx"));
	assert_false(valid_json_content_type("application/json; charset=latin1"));
	assert_false(valid_json_content_type("application/x-www-form-urlencoded"));
	assert_false(valid_json_content_type("application/json; boundary=x"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_accepts_objects),
		cmocka_unit_test(test_body_refuses),
		cmocka_unit_test(test_fields_ok),
		cmocka_unit_test(test_fields_refused),
		cmocka_unit_test(test_content_type),
	};

	return cmocka_run_group_tests_name("valid", tests, NULL, NULL);
}
