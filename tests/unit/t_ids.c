/*
 * t_ids.c: the ids' random bytes (ids.c) and the request ids made from
 * them (request.c): distinct draws, a forked child's own stream, and the
 * id a request gets with and without a valid one from the client.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "ids.h"
#include "request.h"

#define DRAWS 4096

static int
cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* 4096 ids of 16 bytes, drawn across many pool refills: no two equal. */
static void
t_distinct(void **state)
{
	static unsigned char ids[DRAWS][16];

	(void)state;
	for (int i = 0; i < DRAWS; i++)
		ids_fill(ids[i], sizeof(ids[i]));
	qsort(ids, DRAWS, sizeof(ids[0]), cmp16);
	for (int i = 1; i < DRAWS; i++)
		assert_true(memcmp(ids[i - 1], ids[i], 16) != 0);
}

/* Odd sizes that straddle the pool's end come out whole and differ. */
static void
t_straddle(void **state)
{
	unsigned char a[200], b[200];

	(void)state;
	for (int i = 0; i < 5; i++) {
		ids_fill(a, sizeof(a));
		ids_fill(b, sizeof(b));
		assert_true(memcmp(a, b, sizeof(a)) != 0);
	}
}

/*
 * After a fork the child draws from its own key: its next bytes are not
 * the parent's next bytes (which they would be if the child went on with
 * the parent's pool).
 */
static void
t_fork(void **state)
{
	unsigned char mine[32], theirs[32];
	int	      fds[2], status;
	pid_t	      pid;

	(void)state;
	ids_fill(mine, 8); /* the parent has a key and a part-used pool */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ids_fill(theirs, sizeof(theirs));
		_exit(write(fds[1], theirs, sizeof(theirs)) == sizeof(theirs) ?
			0 :
			1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], theirs, sizeof(theirs)), sizeof(theirs));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ids_fill(mine, sizeof(mine));
	assert_true(memcmp(mine, theirs, sizeof(mine)) != 0);
}

static bool
hex32(const char *s)
{
	if (strlen(s) != 32)
		return false;
	for (size_t i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * A request without a valid client id gets 32 hex digits of its own,
 * different each time, and its trace id is that id; a valid client id
 * is kept as given.
 */
static void
t_request_id(void **state)
{
	struct req a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	req_set_request_id(&a, NULL);
	req_set_request_id(&b, "bad id!");
	assert_true(hex32(a.request_id));
	assert_true(hex32(b.request_id));
	assert_string_not_equal(a.request_id, b.request_id);
	req_set_trace(&a, NULL);
	assert_string_equal(a.trace_id, a.request_id);
	req_set_request_id(&a, "abc-123.X_y");
	assert_string_equal(a.request_id, "abc-123.X_y");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_distinct),
		cmocka_unit_test(t_straddle),
		cmocka_unit_test(t_fork),
		cmocka_unit_test(t_request_id),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ids", tests, NULL, NULL);
}
