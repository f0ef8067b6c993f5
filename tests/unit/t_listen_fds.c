/*
 * t_listen_fds.c: unit tests for listen_fds.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP): the socket-activation variables, the names,
 * what is refused (not a socket, not listening, a datagram socket, an
 * unknown or repeated name, a count the names contradict), FD_CLOEXEC and
 * the variables removed.  The descriptors are placed from FIRST on, high
 * enough to be free in a test process.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "listen_fds.h"

#define FIRST 40

static char dir[64];

/* A listening unix socket at dir/name, placed on descriptor at. */
static void
unix_listener(int at, const char *name, bool listening)
{
	struct sockaddr_un sun;
	int		   fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, name);
	(void)unlink(sun.sun_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listening)
		assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(dup2(fd, at), at);
	close(fd);
}

static void
set_env(const char *pid, const char *n, const char *names)
{
	char self[32];

	if (pid == NULL) {
		snprintf(self, sizeof(self), "%ld", (long)getpid());
		pid = self;
	}
	assert_int_equal(setenv("LISTEN_PID", pid, 1), 0);
	assert_int_equal(setenv("LISTEN_FDS", n, 1), 0);
	if (names != NULL)
		assert_int_equal(setenv("LISTEN_FDNAMES", names, 1), 0);
	else
		unsetenv("LISTEN_FDNAMES");
}

static bool
env_gone(void)
{
	return getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
	    getenv("LISTEN_FDNAMES") == NULL;
}

static int
take(struct listen_fds *lf, char *err, size_t errsz)
{
	return listen_fds_take(getpid(), FIRST, lf, err, errsz);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/t_listen_fds.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char p[128];

	(void)state;
	for (int i = 0; i < 4; i++)
		close(FIRST + i);
	snprintf(p, sizeof(p), "%s/pool", dir);
	(void)unlink(p);
	snprintf(p, sizeof(p), "%s/ev", dir);
	(void)unlink(p);
	(void)rmdir(dir);
	return 0;
}

static void
t_both_named(void **state)
{
	struct listen_fds lf;
	char		  err[256], addr[128];

	(void)state;
	/* In the order the manager chose, not the order of the roles. */
	unix_listener(FIRST, "ev", true);
	unix_listener(FIRST + 1, "pool", true);
	fcntl(FIRST, F_SETFD, 0);
	set_env(NULL, "2", "taskapi-ev:taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), 2);
	assert_int_equal(lf.ev, FIRST);
	assert_int_equal(lf.pool, FIRST + 1);
	assert_true(fcntl(FIRST, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(FIRST + 1, F_GETFD) & FD_CLOEXEC);
	assert_true(env_gone());

	snprintf(addr, sizeof(addr), "unix:%s/pool", dir);
	assert_int_equal(listen_fds_matches(lf.pool, addr, err, sizeof(err)),
	    1);
	assert_int_equal(listen_fds_matches(lf.pool, NULL, err, sizeof(err)),
	    1);
	snprintf(addr, sizeof(addr), "unix:%s/elsewhere", dir);
	assert_int_equal(listen_fds_matches(lf.pool, addr, err, sizeof(err)),
	    0);
	assert_non_null(strstr(err, "elsewhere"));
	assert_int_equal(listen_fds_matches(lf.pool, "127.0.0.1:9000", err,
			     sizeof(err)),
	    -1);
}

static void
t_not_for_us(void **state)
{
	struct listen_fds lf;
	char		  err[256], other[32];

	(void)state;
	unix_listener(FIRST, "pool", true);
	/* Inherited from a parent it was meant for: not this process's. */
	snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
	set_env(other, "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), 0);
	assert_int_equal(lf.pool, -1);
	assert_int_equal(lf.ev, -1);
	assert_true(env_gone());
	/* Nothing set at all. */
	assert_int_equal(take(&lf, err, sizeof(err)), 0);
	/* LISTEN_FDS without LISTEN_PID: not for anyone (sd_listen_fds). */
	setenv("LISTEN_FDS", "1", 1);
	assert_int_equal(take(&lf, err, sizeof(err)), 0);
	assert_true(env_gone());
}

static void
t_unnamed_single(void **state)
{
	struct listen_fds lf;
	char		  err[256];

	(void)state;
	unix_listener(FIRST, "pool", true);
	set_env(NULL, "1", NULL);
	assert_int_equal(take(&lf, err, sizeof(err)), 1);
	assert_int_equal(lf.pool, FIRST);
	assert_int_equal(lf.ev, -1);
	/* Two without names: which is which is not guessed. */
	unix_listener(FIRST, "pool", true);
	unix_listener(FIRST + 1, "ev", true);
	set_env(NULL, "2", NULL);
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "named ''"));
	assert_true(env_gone());
}

static void
t_refused(void **state)
{
	struct listen_fds lf;
	char		  err[256];
	int		  sv[2], fd;

	(void)state;
	/* Bound but not listening. */
	unix_listener(FIRST, "pool", false);
	set_env(NULL, "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not listening"));
	assert_int_equal(lf.pool, -1);
	assert_true(env_gone());

	/* A datagram socket. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, FIRST), FIRST);
	close(fd);
	set_env(NULL, "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a stream socket"));

	/* Not a socket: a pipe end. */
	assert_int_equal(pipe(sv), 0);
	assert_int_equal(dup2(sv[0], FIRST), FIRST);
	close(sv[0]);
	close(sv[1]);
	set_env(NULL, "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));

	/* A connected pair: a socket, but nobody's listener. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(dup2(sv[0], FIRST), FIRST);
	close(sv[0]);
	close(sv[1]);
	set_env(NULL, "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);

	/* Nothing open there at all. */
	close(FIRST);
	set_env(NULL, "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
}

static void
t_bad_names_and_counts(void **state)
{
	struct listen_fds lf;
	char		  err[256];

	(void)state;
	unix_listener(FIRST, "pool", true);
	unix_listener(FIRST + 1, "ev", true);
	set_env(NULL, "2", "taskapi-pool:something");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'something'"));
	set_env(NULL, "2", "taskapi-pool:taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	set_env(NULL, "2", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "names 1 descriptors"));
	set_env(NULL, "1", "taskapi-pool:taskapi-ev");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	set_env(NULL, "x", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	set_env(NULL, "-1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	set_env(NULL, "99999999999999999999", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	set_env("12abc", "1", "taskapi-pool");
	assert_int_equal(take(&lf, err, sizeof(err)), -1);
	assert_true(env_gone());
	/* Zero descriptors for this process: nothing, and no error. */
	set_env(NULL, "0", NULL);
	assert_int_equal(take(&lf, err, sizeof(err)), 0);
}

static void
t_inet(void **state)
{
	struct listen_fds  lf;
	struct sockaddr_in sin;
	char		   err[256];
	int		   fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(dup2(fd, FIRST), FIRST);
	close(fd);
	set_env(NULL, "1", "taskapi-ev");
	assert_int_equal(take(&lf, err, sizeof(err)), 1);
	assert_int_equal(lf.ev, FIRST);
	assert_int_equal(lf.pool, -1);
	assert_int_equal(listen_fds_matches(FIRST, "127.0.0.1:9000", err,
			     sizeof(err)),
	    1);
	assert_int_equal(listen_fds_matches(FIRST, "unix:/run/x.sock", err,
			     sizeof(err)),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_both_named, setup, teardown),
		cmocka_unit_test_setup_teardown(t_not_for_us, setup, teardown),
		cmocka_unit_test_setup_teardown(t_unnamed_single, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(t_bad_names_and_counts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(t_inet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
