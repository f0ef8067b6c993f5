/*
 * t_db_resolve.c: database host names looked up off the event loop
 * (db_resolve.c, and db_conn.c's use of it).
 *
 * getaddrinfo is wrapped at link time (-Wl,--wrap=getaddrinfo, this
 * program only): the wrapper blocks until the test lets it answer, and
 * answers what the test says, so "the caller does not wait for the
 * lookup" is checked by the lookup provably still running, not by a
 * clock.  libpq's own lookups (inside libpq.so) are not wrapped: the
 * connection tests make sure libpq is handed an address, by a listening
 * socket of the test's that the connection reaches, under a name no
 * resolver knows.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "db.h"
#include "db_resolve.h"
#include "util.h"

/* --- the wrapped resolver ------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  cv = PTHREAD_COND_INITIALIZER;
static bool	       go;	  /* the lookup may answer */
static int	       entered;	  /* lookups that have begun */
static int	       finished;  /* lookups that have answered */
static int	       answer_rc; /* 0, or an EAI_ code */
static const char     *answer[4]; /* numeric addresses, NULL-ended */
static char	       asked[64]; /* the last name looked up */

int
__wrap_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res);
int
__real_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res);

int
__wrap_getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo *head = NULL, **tail = &head;
	int		 rc = 0;

	(void)service;
	(void)hints;
	pthread_mutex_lock(&mu);
	snprintf(asked, sizeof(asked), "%s", node);
	entered++;
	pthread_cond_broadcast(&cv);
	while (!go)
		pthread_cond_wait(&cv, &mu);
	/* Built with the real getaddrinfo on numeric addresses (no lookup),
	 * so that freeaddrinfo frees what it is given. */
	for (int i = 0; answer_rc == 0 && answer[i] != NULL; i++) {
		struct addrinfo h = { .ai_flags = AI_NUMERICHOST,
			.ai_socktype = SOCK_STREAM },
				*one;

		if (__real_getaddrinfo(answer[i], NULL, &h, &one) != 0)
			abort();
		*tail = one;
		while (*tail != NULL)
			tail = &(*tail)->ai_next;
	}
	rc = answer_rc;
	finished++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	*res = head;
	return rc;
}

static void
answer_with(int rc, const char *a0, const char *a1, const char *a2)
{
	pthread_mutex_lock(&mu);
	answer_rc = rc;
	answer[0] = a0;
	answer[1] = a1;
	answer[2] = a2;
	answer[3] = NULL;
	go = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Waits for *counter to reach n; fails the test after a generous 60 s
 * (a lookup that never began or never answered), rather than hang. */
static void
wait_count(const int *counter, int n)
{
	struct timespec until;
	int		rc = 0, got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&mu);
	while (*counter < n && rc == 0)
		rc = pthread_cond_timedwait(&cv, &mu, &until);
	got = *counter;
	pthread_mutex_unlock(&mu);
	assert_true(got >= n);
}

static int
setup(void **state)
{
	(void)state;
	/* The last test's lookup threads gone (they end just after their
	 * answer is read; up to 60 s): each test starts with none. */
	for (int i = 0; i < 6000 && db_resolve_running() > 0; i++)
		(void)poll(NULL, 0, 10);
	assert_int_equal(db_resolve_running(), 0);
	pthread_mutex_lock(&mu);
	go = false;
	entered = finished = 0;
	answer_rc = 0;
	answer[0] = NULL;
	asked[0] = '\0';
	pthread_mutex_unlock(&mu);
	return 0;
}

/* Waits (up to a generous cap) for fd to be readable. */
static bool
readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* --- db_resolve ----------------------------------------------------- */

static void
t_needed(void **state)
{
	(void)state;
	assert_true(db_resolve_needed("db.example"));
	assert_true(db_resolve_needed("localhost"));
	assert_true(db_resolve_needed("10.0.0.300")); /* not an address */
	assert_false(db_resolve_needed("10.0.0.3"));
	assert_false(db_resolve_needed("::1"));
	assert_false(db_resolve_needed("fd00::5"));
	assert_false(db_resolve_needed("/var/run/postgresql"));
	assert_false(db_resolve_needed("@abstract"));
	assert_false(db_resolve_needed(""));
	assert_false(db_resolve_needed(NULL));
}

static void
t_lookup_does_not_block(void **state)
{
	struct db_resolve *r;
	char		   addrs[8][DB_ADDR_LEN], err[128];
	size_t		   n = 99;

	(void)state;
	assert_non_null(r = db_resolve_start("db.example"));
	wait_count(&entered, 1);
	/* The lookup is under way and held: the caller has its answer
	 * "not yet" at once, and nothing to read. */
	assert_false(readable(db_resolve_fd(r), 0));
	assert_int_equal(db_resolve_take(r, addrs, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_string_equal(asked, "db.example");
	/* Two addresses and one of them again: each once, in order. */
	answer_with(0, "10.1.2.3", "fd00::7", "10.1.2.3");
	assert_true(readable(db_resolve_fd(r), 60000));
	assert_int_equal(db_resolve_take(r, addrs, 8, &n, err, sizeof(err)), 1);
	assert_int_equal(n, 2);
	assert_string_equal(addrs[0], "10.1.2.3");
	assert_string_equal(addrs[1], "fd00::7");
	db_resolve_drop(r);
}

static void
t_lookup_fails(void **state)
{
	struct db_resolve *r;
	char		   addrs[8][DB_ADDR_LEN], err[128];
	size_t		   n;

	(void)state;
	answer_with(EAI_NONAME, NULL, NULL, NULL);
	assert_non_null(r = db_resolve_start("nowhere.example"));
	assert_true(readable(db_resolve_fd(r), 60000));
	assert_int_equal(db_resolve_take(r, addrs, 8, &n, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "nowhere.example"));
	db_resolve_drop(r);
}

/* Let go of before it ends: the thread ends it and frees it (the
 * sanitizer and valgrind builds see a leak or a use after free). */
static void
t_dropped_while_looking_up(void **state)
{
	struct db_resolve *r;

	(void)state;
	assert_non_null(r = db_resolve_start("slow.example"));
	wait_count(&entered, 1);
	db_resolve_drop(r);
	answer_with(0, "10.9.9.9", NULL, NULL);
	wait_count(&finished, 1);
}

/* --- db_conn: the event worker's connect ----------------------------- */

/* A listening TCP socket on the loopback; its port in *port. */
static int
listener(char *port, size_t sz)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t	   len = sizeof(a);
	int		   fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(port, sz, "%u", (unsigned)ntohs(a.sin_port));
	return fd;
}

/*
 * db set up for the event worker's connect (async_dns) to hosts (a
 * comma-separated list of names or addresses), each on the port of a
 * listener made here; the listener is returned.  url: the URL's room.
 */
static int
db_for(struct db *db, char *url, size_t sz, const char *hosts, long timeout)
{
	char   port[8];
	int    lfd = listener(port, sizeof(port));
	size_t n = (size_t)snprintf(url, sz, "postgresql://u@");

	for (const char *h = hosts; *h != '\0' && n < sz;) {
		size_t l = strcspn(h, ",");

		n += (size_t)snprintf(url + n, sz - n, "%s%.*s:%s",
		    h == hosts ? "" : ",", (int)l, h, port);
		h += l + (h[l] == ',');
	}
	assert_true(n < sz);
	snprintf(url + n, sz - n, "/x?sslmode=disable");
	db_init(db, url, timeout, 0);
	db->async_dns = true;
	return lfd;
}

/* The connection reached the test's listener (libpq was handed the
 * address: no resolver knows the name), then everything is closed. */
static void
reached(struct db *db, int lfd)
{
	int c;

	assert_true(readable(lfd, 60000));
	assert_true((c = accept(lfd, NULL, NULL)) >= 0);
	close(c);
	db_close(db);
	close(lfd);
}

static void
t_connect_after_lookup(void **state)
{
	struct db db;
	char	  url[200];
	int	  lfd;

	(void)state;
	lfd = db_for(&db, url, sizeof(url), "db.invalid", 30);
	/* Started: the name is being looked up, nothing connects yet. */
	assert_int_equal(db_open_start(&db, util_mono_us()), DB_STEP_READ);
	wait_count(&entered, 1);
	assert_string_equal(asked, "db.invalid");
	assert_true(db_socket(&db) >= 0);
	assert_false(readable(db_socket(&db), 0));
	assert_int_equal(db_open_step(&db, false, util_mono_us()),
	    DB_STEP_WAIT);
	/* Answered: libpq connects to the address under the same name. */
	answer_with(0, "127.0.0.1", NULL, NULL);
	assert_true(readable(db_socket(&db), 60000));
	assert_int_equal(db_open_step(&db, true, util_mono_us()),
	    DB_STEP_WRITE);
	reached(&db, lfd);
}

/* A name that takes longer than the connect timeout is given up for the
 * URL's next host; its lookup, still running, is left to end alone. */
static void
t_lookup_timeout_next_host(void **state)
{
	struct db db;
	char	  url[200];
	int	  lfd;
	int64_t	  t0 = util_mono_us();

	(void)state;
	lfd = db_for(&db, url, sizeof(url), "stuck.invalid,127.0.0.1", 2);
	assert_int_equal(db_open_start(&db, t0), DB_STEP_READ);
	wait_count(&entered, 1);
	/* Before the deadline: nothing; after it, the next host. */
	assert_int_equal(db_open_step(&db, false, t0 + 1000000), DB_STEP_WAIT);
	assert_int_equal(db_open_step(&db, false, t0 + 2000001), DB_STEP_WRITE);
	reached(&db, lfd);
	answer_with(0, "10.9.9.9", NULL, NULL);
	wait_count(&finished, 1);
}

/* Every address of a name is tried, in turn, as libpq would. */
static void
t_next_address(void **state)
{
	struct db db;
	char	  url[200];
	int	  lfd, st;

	(void)state;
	lfd = db_for(&db, url, sizeof(url), "two.invalid", 30);
	/* The first address refuses at once (nothing listens on
	 * 127.0.0.2 at that port), the second is the listener. */
	answer_with(0, "127.0.0.2", "127.0.0.1", NULL);
	assert_int_equal(db_open_start(&db, util_mono_us()), DB_STEP_READ);
	assert_true(readable(db_socket(&db), 60000));
	st = db_open_step(&db, true, util_mono_us());
	for (int i = 0; i < 100 && st == DB_STEP_WRITE && !readable(lfd, 0);
	     i++) {
		struct pollfd p = { .fd = db_socket(&db), .events = POLLOUT };

		assert_int_equal(poll(&p, 1, 60000), 1);
		st = db_open_step(&db, true, util_mono_us());
	}
	reached(&db, lfd);
}

/* An address is not looked up: it goes to libpq as it is. */
static void
t_address_not_looked_up(void **state)
{
	struct db db;
	char	  url[200];
	int	  lfd;

	(void)state;
	lfd = db_for(&db, url, sizeof(url), "127.0.0.1", 30);
	assert_int_equal(db_open_start(&db, util_mono_us()), DB_STEP_WRITE);
	reached(&db, lfd);
	assert_int_equal(entered, 0);
}

/*
 * At most 16 lookups run at once in a process: the next is refused
 * (EAGAIN), and a connection passes such a host for the next rather
 * than have libpq look it up.  Last in the list: its threads end after
 * it, and until they do, no other lookup could start.
 */
static void
t_cap(void **state)
{
	struct db_resolve *rs[16];
	struct db	   db;
	char		   url[200];
	int		   lfd;

	(void)state;
	for (size_t i = 0; i < 16; i++)
		assert_non_null(rs[i] = db_resolve_start("held.example"));
	wait_count(&entered, 16);
	errno = 0;
	assert_null(db_resolve_start("one.more.example"));
	assert_int_equal(errno, EAGAIN);
	lfd = db_for(&db, url, sizeof(url), "one.more.invalid,127.0.0.1", 30);
	assert_int_equal(db_open_start(&db, util_mono_us()), DB_STEP_WRITE);
	reached(&db, lfd);
	assert_int_equal(entered, 16);
	for (size_t i = 0; i < 16; i++)
		db_resolve_drop(rs[i]);
	answer_with(0, "10.9.9.9", NULL, NULL);
	wait_count(&finished, 16);
	/* Their threads gone before the program ends (up to 60 s). */
	for (int i = 0; i < 6000 && db_resolve_running() > 0; i++)
		(void)poll(NULL, 0, 10);
	assert_int_equal(db_resolve_running(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_needed, setup),
		cmocka_unit_test_setup(t_lookup_does_not_block, setup),
		cmocka_unit_test_setup(t_lookup_fails, setup),
		cmocka_unit_test_setup(t_dropped_while_looking_up, setup),
		cmocka_unit_test_setup(t_connect_after_lookup, setup),
		cmocka_unit_test_setup(t_lookup_timeout_next_host, setup),
		cmocka_unit_test_setup(t_next_address, setup),
		cmocka_unit_test_setup(t_address_not_looked_up, setup),
		cmocka_unit_test_setup(t_cap, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
