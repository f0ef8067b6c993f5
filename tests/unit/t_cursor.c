/*
 * t_cursor.c: unit tests for cursor.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP): a cursor reads back as written, and no
 * change of one character, no truncation, no extension and no other key
 * gets a cursor accepted.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cursor.h"

static const unsigned char secret[] =
    "a JWT secret of more than thirty-two bytes, for the tests";

static void
sample(struct cursor *c)
{
	memset(c, 0, sizeof(*c));
	c->list = 'T';
	c->sort = 4;
	for (int i = 0; i < CURSOR_SCOPE_LEN; i++)
		c->scope[i] = (uint8_t)(i * 7 + 1);
	snprintf(c->id, sizeof(c->id), "%s",
	    "0f3b7b8f-4a61-4a6d-8c2e-9d7e6a5b4c3d");
	snprintf(c->key, sizeof(c->key), "%s", "2026-12-05 10:17:07.437004+00");
}

static void
t_round_trip(void **state)
{
	unsigned char key[CURSOR_MACKEY_LEN];
	struct cursor c, d;
	char	      text[CURSOR_TEXT_MAX];

	(void)state;
	cursor_mac_key(secret, sizeof(secret) - 1, key);
	sample(&c);
	assert_true(cursor_encode(&c, key, text, sizeof(text)));
	/* base64url without padding: nothing a URL would need to escape. */
	assert_int_equal(strspn(text,
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
			     "nopqrstuvwxyz0123456789-_"),
	    strlen(text));
	assert_true(cursor_decode(text, key, &d));
	assert_int_equal(d.list, c.list);
	assert_int_equal(d.sort, c.sort);
	assert_memory_equal(d.scope, c.scope, CURSOR_SCOPE_LEN);
	assert_string_equal(d.id, c.id);
	assert_string_equal(d.key, c.key);

	/* An empty key (and the longest one) too. */
	c.key[0] = '\0';
	assert_true(cursor_encode(&c, key, text, sizeof(text)));
	assert_true(cursor_decode(text, key, &d));
	assert_string_equal(d.key, "");
	memset(c.key, '9', CURSOR_KEY_MAX);
	c.key[CURSOR_KEY_MAX] = '\0';
	assert_true(cursor_encode(&c, key, text, sizeof(text)));
	assert_true(strlen(text) < CURSOR_TEXT_MAX);
	assert_true(cursor_decode(text, key, &d));
	assert_string_equal(d.key, c.key);
}

static void
t_every_change_rejected(void **state)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char key[CURSOR_MACKEY_LEN];
	struct cursor c, d;
	char	      text[CURSOR_TEXT_MAX], bad[CURSOR_TEXT_MAX + 2];
	size_t	      len;

	(void)state;
	cursor_mac_key(secret, sizeof(secret) - 1, key);
	sample(&c);
	assert_true(cursor_encode(&c, key, text, sizeof(text)));
	len = strlen(text);
	for (size_t i = 0; i < len; i++)
		for (const char *a = alphabet; *a != '\0'; a++) {
			if (*a == text[i])
				continue;
			memcpy(bad, text, len + 1);
			bad[i] = *a;
			/*
			 * The last character may carry unused bits; a change
			 * that only touches them decodes to the same bytes,
			 * which libsodium rejects as non-canonical.
			 */
			if (cursor_decode(bad, key, &d))
				fail_msg("accepted with char %zu = %c", i, *a);
		}
	for (size_t n = 0; n < len; n++) {
		memcpy(bad, text, n);
		bad[n] = '\0';
		assert_false(cursor_decode(bad, key, &d));
	}
	memcpy(bad, text, len);
	memcpy(bad + len, "A", 2);
	assert_false(cursor_decode(bad, key, &d));
	assert_false(cursor_decode("", key, &d));
	assert_false(cursor_decode("a+b/c=", key, &d));
}

static void
t_other_key_rejected(void **state)
{
	static const unsigned char other[] =
	    "another JWT secret, also more than thirty-two bytes long";
	unsigned char key[CURSOR_MACKEY_LEN], key2[CURSOR_MACKEY_LEN];
	struct cursor c, d;
	char	      text[CURSOR_TEXT_MAX];

	(void)state;
	cursor_mac_key(secret, sizeof(secret) - 1, key);
	cursor_mac_key(other, sizeof(other) - 1, key2);
	assert_memory_not_equal(key, key2, CURSOR_MACKEY_LEN);
	/* The subkey is not the secret itself. */
	assert_memory_not_equal(key, secret, CURSOR_MACKEY_LEN);
	sample(&c);
	assert_true(cursor_encode(&c, key, text, sizeof(text)));
	assert_false(cursor_decode(text, key2, &d));
}

static void
t_bad_input_to_encode(void **state)
{
	unsigned char key[CURSOR_MACKEY_LEN];
	struct cursor c;
	char	      text[CURSOR_TEXT_MAX];

	(void)state;
	cursor_mac_key(secret, sizeof(secret) - 1, key);
	sample(&c);
	snprintf(c.id, sizeof(c.id), "%s", "not-a-uuid");
	assert_false(cursor_encode(&c, key, text, sizeof(text)));
	sample(&c);
	assert_false(cursor_encode(&c, key, text, 16));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_round_trip),
		cmocka_unit_test(t_every_change_rejected),
		cmocka_unit_test(t_other_key_rejected),
		cmocka_unit_test(t_bad_input_to_encode),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
