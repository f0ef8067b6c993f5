/*
 * t_password.c: unit tests for password.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP).  Each hash costs tens of milliseconds
 * (Argon2id, 19 MiB), so the tests share a few hashes made in setup.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "password.h"

#define PW	"correct horse battery staple"
#define PWLEN	(sizeof(PW) - 1)

/* Made once in setup: two hashes of PW, one of a password with NULs. */
static char	h1[PASSWORD_HASH_MAX], h2[PASSWORD_HASH_MAX];
static char	hnul[PASSWORD_HASH_MAX];
static const char pwnul[] = { 'a', 'b', '\0', 'c', 'd' };

static int
setup(void **state)
{

	(void)state;
	if (sodium_init() < 0)
		return -1;
	if (password_hash(PW, PWLEN, h1) != 0 ||
	    password_hash(PW, PWLEN, h2) != 0 ||
	    password_hash(pwnul, sizeof(pwnul), hnul) != 0)
		return -1;
	return 0;
}

static int64_t
mono_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
t_hash_format(void **state)
{
	static const char	prefix[] = "$argon2id$v=19$m=19456,t=2,p=1$";

	(void)state;
	assert_memory_equal(h1, prefix, sizeof(prefix) - 1);
	assert_true(strlen(h1) < PASSWORD_HASH_MAX);
	assert_null(strstr(h1, PW));
}

static void
t_verify_ok(void **state)
{

	(void)state;
	assert_true(password_verify(h1, PW, PWLEN));
	assert_true(password_verify(h2, PW, PWLEN));
}

static void
t_verify_wrong_password(void **state)
{

	(void)state;
	assert_false(password_verify(h1, "correct horse battery stapl",
	    PWLEN - 1));
	assert_false(password_verify(h1, "Correct horse battery staple",
	    PWLEN));
	assert_false(password_verify(h1, PW "!", PWLEN + 1));
	assert_false(password_verify(h1, "", 0));
}

static void
t_salt_differs(void **state)
{

	(void)state;
	assert_string_not_equal(h1, h2);
}

/* pw is pointer + length: no NUL needed, and embedded NULs count. */
static void
t_length_not_nul(void **state)
{
	char	*copy;

	(void)state;
	copy = malloc(PWLEN);		/* exactly the bytes, no NUL */
	assert_non_null(copy);
	memcpy(copy, PW, PWLEN);
	assert_true(password_verify(h1, copy, PWLEN));
	free(copy);

	assert_true(password_verify(hnul, pwnul, sizeof(pwnul)));
	assert_false(password_verify(hnul, "ab\0ce", 5));
	assert_false(password_verify(hnul, "ab", 2));
	/* A prefix of PW is not PW. */
	assert_false(password_verify(h1, PW, PWLEN - 1));
}

static void
t_malformed_hash(void **state)
{
	char	bad[PASSWORD_HASH_MAX];
	char	*unterminated;

	(void)state;
	assert_false(password_verify("", PW, PWLEN));
	assert_false(password_verify("not a hash", PW, PWLEN));
	assert_false(password_verify("$argon2id$", PW, PWLEN));
	assert_false(password_verify("$2b$12$abcdefghijklmnopqrstuu", PW,
	    PWLEN));
	assert_false(password_verify(NULL, PW, PWLEN));

	/* Truncated: the last character of the digest cut off. */
	strcpy(bad, h1);
	bad[strlen(bad) - 1] = '\0';
	assert_false(password_verify(bad, PW, PWLEN));

	/* One character of the digest changed. */
	strcpy(bad, h1);
	bad[strlen(bad) - 2] = (bad[strlen(bad) - 2] == 'A') ? 'B' : 'A';
	assert_false(password_verify(bad, PW, PWLEN));

	/* Parameters changed: the digest no longer matches. */
	strcpy(bad, h1);
	bad[strlen("$argon2id$v=19$m=19456,t=")] = '3';
	assert_false(password_verify(bad, PW, PWLEN));

	/* PASSWORD_HASH_MAX bytes with no NUL: refused, not overread. */
	unterminated = malloc(PASSWORD_HASH_MAX);
	assert_non_null(unterminated);
	memset(unterminated, 'a', PASSWORD_HASH_MAX);
	memcpy(unterminated, h1, strlen(h1));
	assert_false(password_verify(unterminated, PW, PWLEN));
	free(unterminated);
}

static void
t_empty_password(void **state)
{
	char	h[PASSWORD_HASH_MAX];

	(void)state;
	assert_int_equal(password_hash("", 0, h), 0);
	assert_true(password_verify(h, "", 0));
	assert_false(password_verify(h, " ", 1));
	assert_int_equal(password_hash(NULL, 5, h), -1);
	assert_string_equal(h, "");
}

/*
 * The dummy costs about what a real verification does.  Timing is
 * noisy, so the bound is loose: at least a quarter of a real verify.
 * (The first call warms up the allocator, so it is timed second.)  Its
 * parameters are the ones new hashes get: changing PW_OPSLIMIT or
 * PW_MEMLIMIT means making a new dummy.
 */
static void
t_dummy_costs_a_verify(void **state)
{
	int64_t	t0, t1, t2;

	(void)state;
	assert_true(password_dummy_current());
	password_verify_dummy(PW, PWLEN);
	t0 = mono_us();
	assert_false(password_verify(h1, "wrong password", 14));
	t1 = mono_us();
	password_verify_dummy("wrong password", 14);
	t2 = mono_us();
	assert_true(t1 - t0 > 1000);	/* Argon2id, 19 MiB: milliseconds */
	assert_true(t2 - t1 >= (t1 - t0) / 4);
}

static void
t_dummy_odd_inputs(void **state)
{
	char	*copy;

	(void)state;
	password_verify_dummy("", 0);
	password_verify_dummy(pwnul, sizeof(pwnul));
	copy = malloc(PWLEN);
	assert_non_null(copy);
	memcpy(copy, PW, PWLEN);
	password_verify_dummy(copy, PWLEN);
	free(copy);
	/* The real hashes still verify afterwards. */
	assert_true(password_verify(h1, PW, PWLEN));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_hash_format),
		cmocka_unit_test(t_verify_ok),
		cmocka_unit_test(t_verify_wrong_password),
		cmocka_unit_test(t_salt_differs),
		cmocka_unit_test(t_length_not_nul),
		cmocka_unit_test(t_malformed_hash),
		cmocka_unit_test(t_empty_password),
		cmocka_unit_test(t_dummy_costs_a_verify),
		cmocka_unit_test(t_dummy_odd_inputs),
	};

	return cmocka_run_group_tests_name("password", tests, setup, NULL);
}
