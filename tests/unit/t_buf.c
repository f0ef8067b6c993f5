/*
 * t_buf.c: the growable buffer (buf.c): growth, the cap, formatted
 * output longer than the room left, and reuse.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"

/* Appends grow the buffer by doubling and keep it NUL-terminated. */
static void
t_growth(void **state)
{
	struct buf b = { 0 };
	char	   chunk[100];
	size_t	   caps = 0, last_cap = 0;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 1000; i++) {
		assert_true(buf_append(&b, chunk, sizeof(chunk)));
		if (b.cap != last_cap) {
			caps++;
			last_cap = b.cap;
		}
	}
	assert_int_equal(b.len, 100000);
	assert_false(b.failed);
	assert_int_equal(b.p[b.len], '\0');
	assert_true(b.cap >= b.len + 1);
	/* 1 KiB doubled to 128 KiB: 8 allocations, not one per append. */
	assert_int_equal(b.cap, 131072);
	assert_int_equal(caps, 8);
	for (size_t i = 0; i < b.len; i++)
		if (b.p[i] != 'x')
			fail_msg("byte %zu is %d", i, b.p[i]);
	buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

/* A write past the cap writes nothing, and every write after it too. */
static void
t_cap(void **state)
{
	struct buf b = { .max = 10 };

	(void)state;
	assert_true(buf_append(&b, "0123456789", 10)); /* exactly the cap */
	assert_int_equal(b.len, 10);
	assert_string_equal(b.p, "0123456789");
	assert_true(b.cap <= 11); /* never more memory than cap + NUL */
	assert_false(buf_append(&b, "a", 1));
	assert_true(b.failed);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.p, "0123456789");
	/* Failed is sticky: even an empty write fails now. */
	assert_false(buf_append(&b, "", 0));
	assert_false(buf_reserve(&b, 0));
	/* A reset clears it; the cap stays. */
	buf_reset(&b, 1024);
	assert_false(b.failed);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 10);
	assert_true(buf_append(&b, "abc", 3));
	assert_false(buf_reserve(&b, 8));
	buf_free(&b);

	/* n so large that len + n wraps around is refused, not wrapped. */
	b = (struct buf){ 0 };
	assert_true(buf_append(&b, "a", 1));
	assert_false(buf_reserve(&b, SIZE_MAX));
	assert_true(b.failed);
	buf_free(&b);
}

/* Formatted text longer than the room left grows the buffer, whole. */
static void
t_printf_grows(void **state)
{
	struct buf b = { 0 };
	char	   big[3000];

	(void)state;
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_true(buf_printf(&b, "%s=%d;", "n", 42));
	assert_string_equal(b.p, "n=42;");
	/* 2999 bytes into the 1 KiB first allocation: cut, then redone. */
	assert_true(buf_printf(&b, "[%s]", big));
	assert_int_equal(b.len, 5 + 2 + 2999);
	assert_int_equal(b.p[5], '[');
	assert_int_equal(b.p[b.len - 1], ']');
	assert_int_equal(b.p[b.len], '\0');
	assert_int_equal(strlen(b.p), b.len);
	buf_free(&b);
}

/* Formatted text past the cap is not cut short: nothing is written. */
static void
t_printf_truncation(void **state)
{
	struct buf b = { .max = 16 };

	(void)state;
	assert_true(buf_printf(&b, "%s", "0123456789"));
	assert_false(buf_printf(&b, "%d-%d", 123456, 789));
	assert_true(b.failed);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.p, "0123456789"); /* no partial "12345" */
	assert_false(buf_printf(&b, "x"));	/* sticky */
	assert_int_equal(b.len, 10);
	buf_free(&b);
}

/* A reset keeps the memory up to keep bytes, and gives back more. */
static void
t_reset(void **state)
{
	struct buf b = { 0 };
	char	  *first;
	char	   big[5000];

	(void)state;
	assert_true(buf_append(&b, "hello", 5));
	first = b.p;
	buf_reset(&b, 4096);
	assert_ptr_equal(b.p, first); /* kept */
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	memset(big, 'z', sizeof(big));
	assert_true(buf_append(&b, big, sizeof(big)));
	assert_true(b.cap > 4096);
	buf_reset(&b, 4096);
	assert_null(b.p); /* grown past keep: given back */
	assert_int_equal(b.cap, 0);
	assert_true(buf_append(&b, "ok", 2));
	assert_string_equal(b.p, "ok");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_growth),
		cmocka_unit_test(t_cap),
		cmocka_unit_test(t_printf_grows),
		cmocka_unit_test(t_printf_truncation),
		cmocka_unit_test(t_reset),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
