/*
 * t_conf.c: conf.c's defaults that follow the CPUs (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP).  The pool sizes itself by the CPUs this
 * process may run on (its affinity mask: taskset, a container's cpuset),
 * not by every CPU the machine has online.
 */
#include "config.h"

#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "conf.h"

static cpu_set_t all;

static int
setup(void **state)
{
	(void)state;
	/* Only what conf_load requires, and none of the counts. */
	if (setenv("JWT_SECRET", "0123456789abcdef0123456789abcdef", 1) ||
	    setenv("DATABASE_URL", "dbname=none", 1) ||
	    unsetenv("TASKAPI_WORKERS") || unsetenv("TASKAPI_EV_WORKERS"))
		return -1;
	CPU_ZERO(&all);
	return sched_getaffinity(0, sizeof(all), &all);
}

static int
teardown(void **state)
{
	(void)state;
	return sched_setaffinity(0, sizeof(all), &all);
}

static void
load(struct conf *c)
{
	char err[256] = "";

	if (conf_load(c, NULL, err, sizeof(err)) != 0)
		fail_msg("conf_load: %s", err);
}

/* Pinned to one CPU: one event worker, two blocking workers. */
static void
test_one_cpu(void **state)
{
	cpu_set_t   one;
	struct conf c;
	size_t	    first = 0;

	(void)state;
	while (!CPU_ISSET(first, &all))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	load(&c);
	assert_int_equal(c.ev_workers, 1);
	assert_int_equal(c.workers, 2);
	conf_free(&c);
	assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
}

/* The CPUs of the mask it was started with: one event worker per two
 * (rounded up), two blocking workers each. */
static void
test_whole_mask(void **state)
{
	struct conf c;
	long	    n = CPU_COUNT(&all);

	(void)state;
	load(&c);
	assert_int_equal(c.ev_workers, (n + 1) / 2 < 64 ? (n + 1) / 2 : 64);
	assert_int_equal(c.ev_max_connections, 2048);
	assert_int_equal(c.workers, 2 * n);
	conf_free(&c);
}

/* A count that is set wins over the mask. */
static void
test_set_count(void **state)
{
	struct conf c;

	(void)state;
	assert_int_equal(setenv("TASKAPI_EV_WORKERS", "3", 1), 0);
	load(&c);
	assert_int_equal(c.ev_workers, 3);
	conf_free(&c);
	assert_int_equal(unsetenv("TASKAPI_EV_WORKERS"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_cpu),
		cmocka_unit_test(test_whole_mask),
		cmocka_unit_test(test_set_count),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
