/*
 * t_ev_slab.c: the event worker's connections on pages of their own
 * (ev_slab.c): objects zeroed, aligned and apart; slots reused before
 * a new slab is mapped; an emptied slab unmapped, one kept in reserve.
 *
 * A build with AddressSanitizer takes the objects from calloc (so that
 * it checks them): there the slab counts are not looked at and
 * t_unmapped is not built in; the objects' own properties are checked.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev_slab.h"

#ifdef EV_SLAB_MALLOC
static const bool on_malloc = true;
#else
static const bool on_malloc = false;
#endif

/* The size of a struct ev_conn, near enough: not a multiple of 16. */
#define SIZE 5679
#define N    100 /* over three slabs of 32 */

static void
t_objects(void **state)
{
	struct ev_slabs	      s = { 0 };
	static unsigned char *o[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		o[i] = ev_slab_alloc(&s, SIZE);
		assert_non_null(o[i]);
		assert_int_equal((uintptr_t)o[i] % alignof(max_align_t), 0);
		for (size_t k = 0; k < SIZE; k++)
			if (o[i][k] != 0)
				fail_msg("object %d byte %zu not zeroed", i, k);
		memset(o[i], i + 1, SIZE); /* all of it is ours */
	}
	for (int i = 0; i < N; i++)
		for (size_t k = 0; k < SIZE; k++)
			if (o[i][k] != (unsigned char)(i + 1))
				fail_msg("object %d byte %zu overwritten", i,
				    k);
	if (!on_malloc) {
		assert_int_equal(s.nobjects, N);
		assert_int_equal(s.nslabs, (N + 31) / 32);
	}
	/* A freed object comes back zeroed, where it was, and no new slab
	 * is mapped while a slot is free. */
	ev_slab_free(&s, o[40]);
	unsigned char *again = ev_slab_alloc(&s, SIZE);
	assert_non_null(again);
	for (size_t k = 0; k < SIZE; k++)
		if (again[k] != 0)
			fail_msg("reused object byte %zu not zeroed", k);
	if (!on_malloc) {
		assert_ptr_equal(again, o[40]);
		assert_int_equal(s.nslabs, (N + 31) / 32);
	}
	o[40] = again;
	/* Another size than the first is refused, not mixed in. */
	if (!on_malloc)
		assert_null(ev_slab_alloc(&s, SIZE + 16));
	ev_slab_free(&s, NULL);
	for (int i = 0; i < N; i++)
		ev_slab_free(&s, o[i]);
	if (!on_malloc) {
		assert_int_equal(s.nobjects, 0);
		assert_int_equal(s.nslabs, 1); /* the reserve */
	}
	ev_slab_release(&s);
	assert_int_equal(s.nslabs, 0);
}

#ifndef EV_SLAB_MALLOC /* slabs only without AddressSanitizer */
/* mincore's answer for the page holding p: -1 and ENOMEM outside
 * every mapping, else 0 with *v's low bit set when it is in memory. */
static int
page_state(const void *p, unsigned char *v)
{
	long	  page = sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~((uintptr_t)page - 1);

	return mincore((void *)a, 1, v);
}

static bool
mapped(const void *p)
{
	unsigned char v;

	return page_state(p, &v) == 0 || errno != ENOMEM;
}

static bool
resident(const void *p)
{
	unsigned char v;

	return page_state(p, &v) == 0 && (v & 1) != 0;
}

/* The slabs of a burst's objects are unmapped as they empty, whatever
 * the order the objects go in, and their pages go with them. */
static void
t_unmapped(void **state)
{
	struct ev_slabs	      s = { 0 };
	static unsigned char *o[N];
	int		      gone = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		o[i] = ev_slab_alloc(&s, SIZE);
		assert_non_null(o[i]);
		memset(o[i], 0xa5, SIZE);
	}
	/* Every other one, then the rest: slabs empty only at the end. */
	for (int i = 0; i < N; i += 2)
		ev_slab_free(&s, o[i]);
	assert_int_equal(s.nslabs, (N + 31) / 32);
	/* Half of them free: the next allocations fill those slots. */
	for (int i = 0; i < N; i += 2) {
		o[i] = ev_slab_alloc(&s, SIZE);
		assert_non_null(o[i]);
	}
	assert_int_equal(s.nslabs, (N + 31) / 32);
	for (int i = 0; i < N; i++)
		ev_slab_free(&s, o[i]);
	assert_int_equal(s.nslabs, 1);
	for (int i = 0; i < N; i++)
		gone += !mapped(o[i]);
	/* All but the reserve slab's objects (32 at most) are unmapped. */
	assert_true(gone >= N - 32);
	/* and the reserve's pages went back too, but its first (the
	 * header's, with one or two objects). */
	gone = 0;
	for (int i = 0; i < N; i++)
		gone += !resident(o[i]);
	assert_true(gone >= N - 2);
	/* It serves again, from its first slot. */
	unsigned char *one = ev_slab_alloc(&s, SIZE);
	assert_non_null(one);
	for (size_t k = 0; k < SIZE; k++)
		if (one[k] != 0)
			fail_msg(
			    "byte %zu of a reserve slab's object not zeroed",
			    k);
	assert_int_equal(s.nslabs, 1);
	ev_slab_free(&s, one);
	ev_slab_release(&s);
	for (int i = 0; i < N; i++)
		assert_false(mapped(o[i]));
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_objects),
#ifndef EV_SLAB_MALLOC
		cmocka_unit_test(t_unmapped),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
