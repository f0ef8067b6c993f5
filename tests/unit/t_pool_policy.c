/*
 * t_pool_policy.c: the master's decisions (pool_policy.c) over counts
 * of slots made up here: no process is started, no clock is read.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pool_policy.h"

#define S (1000000LL) /* one second in µs */

static struct pool_count cnt;

/* Puts a live worker of kind in slot i. */
static void
put(size_t i, int kind, int state, bool current, bool retiring,
    int64_t idle_since)
{
	struct pool_worker w = { .live = true,
		.kind = kind,
		.current = current,
		.retiring = retiring,
		.state = state,
		.idle_since = idle_since };

	pool_count_add(&cnt, i, &w);
}

static int
reset(void **state)
{
	(void)state;
	memset(&cnt, 0, sizeof(cnt));
	return 0;
}

static void
t_count(void **state)
{
	(void)state;
	put(0, SB_KIND_FCGI, SB_IDLE, true, false, 5);
	put(1, SB_KIND_FCGI, SB_BUSY, true, false, 0);
	put(2, SB_KIND_FCGI, SB_READING, false, false, 0);
	put(3, SB_KIND_FCGI, SB_STARTING, true, false, 0);
	put(4, SB_KIND_FCGI, SB_BUSY, true, true, 0);
	put(6, SB_KIND_EV, SB_BUSY, true, false, 0);
	assert_int_equal(cnt.n, 7);
	assert_int_equal(cnt.k[SB_KIND_FCGI].live, 5);
	assert_int_equal(cnt.k[SB_KIND_FCGI].cur, 3);
	assert_int_equal(cnt.k[SB_KIND_FCGI].old, 1);
	assert_int_equal(cnt.k[SB_KIND_FCGI].retiring, 1);
	assert_int_equal(cnt.k[SB_KIND_FCGI].starting, 1);
	assert_int_equal(cnt.k[SB_KIND_FCGI].busy, 2); /* not the retiring */
	assert_int_equal(cnt.k[SB_KIND_FCGI].ready, 2);
	assert_int_equal(cnt.k[SB_KIND_FCGI].serving, 3);
	assert_int_equal(cnt.k[SB_KIND_EV].cur, 1);

	/* What the tick does afterwards is counted in place. */
	pool_count_retired(&cnt, 1);
	assert_int_equal(cnt.k[SB_KIND_FCGI].busy, 1);
	assert_int_equal(cnt.k[SB_KIND_FCGI].cur, 2);
	assert_int_equal(cnt.k[SB_KIND_FCGI].retiring, 2);
	pool_count_retired(&cnt, 1); /* twice: once */
	assert_int_equal(cnt.k[SB_KIND_FCGI].retiring, 2);
	pool_count_spawned(&cnt, 5, SB_KIND_FCGI);
	assert_int_equal(cnt.k[SB_KIND_FCGI].cur, 3);
	assert_int_equal(cnt.k[SB_KIND_FCGI].starting, 2);
	assert_int_equal(cnt.k[SB_KIND_FCGI].ready, 3);
	assert_int_equal(cnt.k[SB_KIND_FCGI].live, 6);
}

static void
t_fcgi_wanted(void **state)
{
	struct pool_settings dyn = { .fcgi_max = 8, .fcgi_spare = 2 };
	struct pool_settings stat = { .fcgi_max = 4, .fcgi_spare = 4 };
	struct pool_settings od = { .fcgi_max = 8, .fcgi_spare = 0 };

	(void)state;
	/* Idle: the spares only; static: all; on demand: none. */
	assert_int_equal(pool_fcgi_wanted(&cnt, &dyn, false), 2);
	assert_int_equal(pool_fcgi_wanted(&cnt, &stat, false), 4);
	assert_int_equal(pool_fcgi_wanted(&cnt, &od, false), 0);
	/* Under the brake an on-demand pool still keeps one, for the 503s. */
	assert_int_equal(pool_fcgi_wanted(&cnt, &od, true), 1);
	/* Busy ones plus the spares, within the max. */
	for (size_t i = 0; i < 7; i++)
		put(i, SB_KIND_FCGI, i % 2 ? SB_BUSY : SB_READING, true, false,
		    0);
	assert_int_equal(pool_fcgi_wanted(&cnt, &dyn, false), 8);
	assert_int_equal(pool_fcgi_wanted(&cnt, &od, false), 7);
	assert_int_equal(pool_fcgi_wanted(&cnt, &od, true), 7);
	/* Idle past the timeout may go, unless the pool is over its max. */
	dyn.idle_timeout_us = 10 * S;
	assert_int_equal(pool_fcgi_idle_min(&cnt, &dyn), 10 * S);
	dyn.fcgi_max = 5;
	assert_int_equal(pool_fcgi_idle_min(&cnt, &dyn), 0);
}

static void
t_brake(void **state)
{
	struct brake b = { 0 };
	int64_t	     t = 100 * S;

	(void)state;
	for (int i = 0; i < CRASH_LIMIT - 1; i++)
		assert_false(brake_note_crash(&b, t + i * S));
	assert_false(brake_holds(&b, t + 4 * S));
	/* The fifth within the window: held back 0.5 s, then doubling. */
	assert_true(brake_note_crash(&b, t + 4 * S));
	assert_int_equal(b.backoff_us, BACKOFF_MIN_US);
	assert_true(brake_holds(&b, t + 4 * S));
	assert_false(brake_holds(&b, t + 4 * S + BACKOFF_MIN_US));
	assert_true(brake_note_crash(&b, t + 5 * S));
	assert_int_equal(b.backoff_us, 2 * BACKOFF_MIN_US);
	for (int i = 0; i < 20; i++)
		(void)brake_note_crash(&b, t + 6 * S + i);
	assert_int_equal(b.backoff_us, BACKOFF_MAX_US); /* capped */
	/* Quiet for a window past the last hold: forgotten. */
	brake_forget(&b, b.spawn_at + CRASH_WINDOW_US / 2);
	assert_int_equal(b.backoff_us, BACKOFF_MAX_US);
	brake_forget(&b, b.spawn_at + CRASH_WINDOW_US + 1);
	assert_int_equal(b.backoff_us, 0);

	/* Five crashes spread wider than the window never hold. */
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < 3 * CRASH_LIMIT; i++)
		assert_false(brake_note_crash(&b, t + i * 8 * S));
}

static void
t_plan_grow(void **state)
{
	struct brake	 b = { 0 };
	struct pool_plan p;

	(void)state;
	pool_plan_kind(&cnt, SB_KIND_EV, 3, &b, 10 * S, &p);
	assert_int_equal(p.spawn, 3);
	assert_false(p.kept || p.retire_old || p.stop_surplus);
	/* Recovering from crashes: one at a time, backoff apart. */
	b.backoff_us = BACKOFF_MIN_US;
	pool_plan_kind(&cnt, SB_KIND_EV, 3, &b, 10 * S, &p);
	assert_int_equal(p.spawn, 1);
	assert_int_equal(b.spawn_at, 10 * S + BACKOFF_MIN_US);
	/* The one started is counted: the brake lets no second one go. */
	pool_count_spawned(&cnt, 0, SB_KIND_EV);
	pool_plan_kind(&cnt, SB_KIND_EV, 3, &b, 10 * S + 1, &p);
	assert_int_equal(p.spawn, 0);
	pool_plan_kind(&cnt, SB_KIND_EV, 3, &b, 10 * S + BACKOFF_MIN_US, &p);
	assert_int_equal(p.spawn, 1);
}

static void
t_plan_kept(void **state)
{
	struct brake	 b = { .backoff_us = 16 * S, .spawn_at = 40 * S };
	struct pool_plan p;

	(void)state;
	/* Held back with no worker of the kind: one is kept, never none. */
	pool_plan_kind(&cnt, SB_KIND_EV, 2, &b, 20 * S, &p);
	assert_int_equal(p.spawn, 1);
	assert_true(p.kept);
	/* It died again at once: not restarted in a tight loop. */
	pool_plan_kind(&cnt, SB_KIND_EV, 2, &b, 20 * S + KEPT_RESPAWN_US - 1,
	    &p);
	assert_int_equal(p.spawn, 0);
	pool_plan_kind(&cnt, SB_KIND_EV, 2, &b, 20 * S + KEPT_RESPAWN_US, &p);
	assert_int_equal(p.spawn, 1);
	assert_true(p.kept);
	/* One running: nothing more while the brake holds. */
	put(0, SB_KIND_EV, SB_IDLE, true, false, 1);
	pool_plan_kind(&cnt, SB_KIND_EV, 2, &b, 30 * S, &p);
	assert_int_equal(p.spawn, 0);
	/* Lifted: the second, and the brake pushed on by the backoff. */
	pool_plan_kind(&cnt, SB_KIND_EV, 2, &b, 40 * S, &p);
	assert_int_equal(p.spawn, 1);
	assert_false(p.kept);
	assert_int_equal(b.spawn_at, 56 * S);
	/* Wanting none (an on-demand pool): none kept either. */
	reset(NULL);
	pool_plan_kind(&cnt, SB_KIND_FCGI, 0, &b, 50 * S, &p);
	assert_int_equal(p.spawn, 0);
}

static void
t_plan_reload(void **state)
{
	struct brake	 b = { 0 };
	struct pool_plan p;

	(void)state;
	/* Two of the old generation: one new worker first. */
	put(0, SB_KIND_FCGI, SB_IDLE, false, false, 1);
	put(1, SB_KIND_FCGI, SB_IDLE, false, false, 1);
	pool_plan_kind(&cnt, SB_KIND_FCGI, 2, &b, S, &p);
	assert_int_equal(p.spawn, 1);
	assert_false(p.retire_old);
	/* While it starts, nothing else. */
	pool_count_spawned(&cnt, 2, SB_KIND_FCGI);
	pool_plan_kind(&cnt, SB_KIND_FCGI, 2, &b, S, &p);
	assert_int_equal(p.spawn, 0);
	assert_false(p.retire_old);
	/* Once it accepts (next tick's count), one old one out. */
	reset(NULL);
	put(0, SB_KIND_FCGI, SB_IDLE, false, false, 1);
	put(1, SB_KIND_FCGI, SB_IDLE, false, false, 1);
	put(2, SB_KIND_FCGI, SB_IDLE, true, false, 1);
	pool_plan_kind(&cnt, SB_KIND_FCGI, 2, &b, S, &p);
	assert_int_equal(p.spawn, 0);
	assert_true(p.retire_old);
	/* While that one stops, nothing else. */
	pool_count_retired(&cnt, 0);
	pool_plan_kind(&cnt, SB_KIND_FCGI, 2, &b, S, &p);
	assert_int_equal(p.spawn, 0);
	assert_false(p.retire_old || p.stop_surplus);
}

static void
t_surplus(void **state)
{
	struct brake	 b = { 0 };
	struct pool_plan p;
	int64_t		 now = 100 * S;

	(void)state;
	put(0, SB_KIND_FCGI, SB_BUSY, true, false, 0);
	put(1, SB_KIND_FCGI, SB_IDLE, true, false, now - 5 * S);
	put(2, SB_KIND_FCGI, SB_IDLE, true, false, now - 30 * S);
	put(3, SB_KIND_FCGI, SB_IDLE, true, false, now - 20 * S);
	put(4, SB_KIND_EV, SB_IDLE, true, false, now - 90 * S);
	pool_plan_kind(&cnt, SB_KIND_FCGI, 2, &b, now, &p);
	assert_true(p.stop_surplus);
	/* The one idle the longest, of its kind. */
	assert_int_equal(pool_surplus(&cnt, SB_KIND_FCGI, now, 10 * S), 2);
	/* None idle that long: none. */
	assert_int_equal(pool_surplus(&cnt, SB_KIND_FCGI, now, 60 * S), cnt.n);
	/* Made smaller by a reload (0): any, idle first, else the first. */
	assert_int_equal(pool_surplus(&cnt, SB_KIND_FCGI, now, 0), 2);
	reset(NULL);
	put(0, SB_KIND_FCGI, SB_BUSY, true, false, 0);
	put(1, SB_KIND_FCGI, SB_BUSY, true, true, 0);
	put(2, SB_KIND_FCGI, SB_BUSY, true, false, 0);
	assert_int_equal(pool_surplus(&cnt, SB_KIND_FCGI, now, 0), 0);
	assert_int_equal(pool_surplus(&cnt, SB_KIND_EV, now, 0), cnt.n);
}

static void
t_ondemand(void **state)
{
	struct pool_settings od = { .fcgi_max = 2, .fcgi_spare = 0 };
	struct pool_settings dyn = { .fcgi_max = 2, .fcgi_spare = 1 };

	(void)state;
	assert_true(pool_ondemand_watch(&cnt, &od, false));
	assert_false(pool_ondemand_watch(&cnt, &od, true)); /* the brake */
	assert_false(pool_ondemand_watch(&cnt, &dyn, false));
	/* One starting counts as ready: one start per waiting connection. */
	pool_count_spawned(&cnt, 0, SB_KIND_FCGI);
	assert_false(pool_ondemand_watch(&cnt, &od, false));
	/* Next tick: it took the connection; the socket is watched again. */
	reset(NULL);
	put(0, SB_KIND_FCGI, SB_BUSY, true, false, 0);
	assert_true(pool_ondemand_watch(&cnt, &od, false));
	/* A retiring one does not count toward the max. */
	put(1, SB_KIND_FCGI, SB_BUSY, true, true, 0);
	assert_true(pool_ondemand_watch(&cnt, &od, false));
	put(2, SB_KIND_FCGI, SB_BUSY, true, false, 0);
	assert_false(pool_ondemand_watch(&cnt, &od, false)); /* at the max */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_count, reset),
		cmocka_unit_test_setup(t_fcgi_wanted, reset),
		cmocka_unit_test_setup(t_brake, reset),
		cmocka_unit_test_setup(t_plan_grow, reset),
		cmocka_unit_test_setup(t_plan_kept, reset),
		cmocka_unit_test_setup(t_plan_reload, reset),
		cmocka_unit_test_setup(t_surplus, reset),
		cmocka_unit_test_setup(t_ondemand, reset),
	};

	return cmocka_run_group_tests_name("pool_policy", tests, NULL, NULL);
}
