/*
 * t_admission.c: unit tests for admission.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP): nginx's $msec, FCGI_ABORT_REQUEST found in
 * what is queued on a connection, and a connection nginx has closed.
 */
#include "config.h"

#include <sys/socket.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "admission.h"
#include "util.h"

static void
t_msec(void **state)
{
	(void)state;
	assert_int_equal(admission_parse_msec("1733380000.123"),
	    1733380000123000LL);
	assert_int_equal(admission_parse_msec("5"), 5000000LL);
	assert_int_equal(admission_parse_msec(NULL), -1);
	assert_int_equal(admission_parse_msec(""), -1);
	assert_int_equal(admission_parse_msec("1.12"), -1);
	assert_int_equal(admission_parse_msec("1.1234"), -1);
	assert_int_equal(admission_parse_msec("-1.000"), -1);
	assert_int_equal(admission_parse_msec("1.000x"), -1);
	assert_int_equal(admission_parse_msec("99999999999999999999.000"), -1);
}

static void
t_aborted(void **state)
{
	/* An empty FCGI_STDIN (type 5) then an FCGI_ABORT_REQUEST (type 2). */
	static const unsigned char stdin_end[] = { 1, 5, 0, 1, 0, 0, 0, 0 };
	static const unsigned char both[] = { 1, 5, 0, 1, 0, 0, 0, 0, 1, 2, 0,
		1, 0, 0, 0, 0 };
	/* A stdin record with 3 bytes + 5 padding whose content holds a 2. */
	static const unsigned char padded[] = { 1, 5, 0, 1, 0, 3, 5, 0, 1, 2, 0,
		0, 0, 0, 0, 0 };

	(void)state;
	assert_false(admission_aborted(stdin_end, sizeof(stdin_end)));
	assert_true(admission_aborted(both, sizeof(both)));
	assert_false(admission_aborted(padded, sizeof(padded)));
	assert_false(admission_aborted(both, 7)); /* a partial header */
}

static void
t_check(void **state)
{
	int	sv[2], ra = 0;
	int64_t now = util_mono_us();

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(admission_check(sv[0], NULL, 0, 0, &ra), ADMIT_RUN);
	assert_int_equal(admission_check(sv[0], NULL, 0, now + 2500000, &ra),
	    ADMIT_BRAKE);
	assert_int_equal(ra, 3);
	assert_int_equal(admission_check(sv[0], "1000.000", 30000000, 0, &ra),
	    ADMIT_STALE);
	close(sv[1]); /* nginx went away */
	assert_int_equal(admission_check(sv[0], NULL, 0, now + 2500000, &ra),
	    ADMIT_GONE);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_msec),
		cmocka_unit_test(t_aborted),
		cmocka_unit_test(t_check),
	};

	return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}
