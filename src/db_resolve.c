/*
 * db_resolve.c: a database host's name looked up in a thread of its own
 * (why: db_resolve.h).
 *
 * The lookup's state is shared by two owners, the connection that asked
 * and the thread, and counted: the last to let go frees it.  The thread
 * owns the pipe's write end and closes it when it is done, so the read
 * end, the caller's, can be closed at any time without the thread ever
 * writing to a descriptor number that has been reused.  The answer is
 * published with a release store before the pipe is written, and read
 * after an acquire load.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db_resolve.h"

/*
 * Lookups whose thread still runs, in this process, at most
 * DB_RESOLVE_MAX: with the resolver not answering, each connection's
 * attempt gives its lookup up after the connect timeout (2 s), while the
 * thread waits out resolv.conf's timeouts (10 s by default); the cap
 * keeps those threads few.
 */
#define DB_RESOLVE_MAX 16
static atomic_int running;

struct db_resolve {
	atomic_int	 refs; /* the caller and the thread */
	atomic_bool	 done; /* res and rc are set */
	int		 rfd, wfd;
	int		 rc; /* getaddrinfo's */
	struct addrinfo *res;
	char		 host[]; /* the name looked up */
};

bool
db_resolve_needed(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (host == NULL || host[0] == '\0' || host[0] == '/' || host[0] == '@')
		return false;
	return inet_pton(AF_INET, host, a) != 1 &&
	    inet_pton(AF_INET6, host, a) != 1;
}

static void
release(struct db_resolve *r)
{
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (r->res != NULL)
		freeaddrinfo(r->res);
	if (r->rfd != -1)
		(void)close(r->rfd);
	free(r);
}

static void *
lookup(void *arg)
{
	struct db_resolve *r = arg;
	struct addrinfo	   hints;
	ssize_t		   w;

	/* libpq's own hints: the same name gives the same addresses (no
	 * AI_ADDRCONFIG, which drops IPv4 on a host whose only IPv4
	 * address is the loopback's). */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r->rc = getaddrinfo(r->host, NULL, &hints, &r->res);
	atomic_store_explicit(&r->done, true, memory_order_release);
	/* The reader may be gone (EPIPE: SIGPIPE is blocked here); a full
	 * pipe (EAGAIN) cannot be: one byte is ever written. */
	do
		w = write(r->wfd, "", 1);
	while (w == -1 && errno == EINTR);
	(void)close(r->wfd);
	release(r);
	atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
	return NULL;
}

struct db_resolve *
db_resolve_start(const char *host)
{
	size_t		   len = strlen(host);
	struct db_resolve *r = NULL;
	int		   p[2] = { -1, -1 }, err;
	pthread_t	   t;
	pthread_attr_t	   attr;
	sigset_t	   all, old;

	if (atomic_fetch_add_explicit(&running, 1, memory_order_relaxed) >=
	    DB_RESOLVE_MAX) {
		err = EAGAIN;
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r) + len + 1)) == NULL ||
	    pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		err = errno;
		goto fail;
	}
	memcpy(r->host, host, len + 1);
	r->rfd = p[0];
	r->wfd = p[1];
	atomic_init(&r->refs, 2);
	atomic_init(&r->done, false);
	/* The thread takes no signal: they stay the event loop's. */
	(void)sigfillset(&all);
	if ((err = pthread_attr_init(&attr)) == 0) {
		(void)pthread_attr_setdetachstate(&attr,
		    PTHREAD_CREATE_DETACHED);
		(void)pthread_sigmask(SIG_SETMASK, &all, &old);
		err = pthread_create(&t, &attr, lookup, r);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		(void)pthread_attr_destroy(&attr);
	}
	if (err == 0)
		return r;
fail:
	if (p[0] != -1) {
		(void)close(p[0]);
		(void)close(p[1]);
	}
	free(r);
	atomic_fetch_sub_explicit(&running, 1, memory_order_relaxed);
	errno = err;
	return NULL;
}

int
db_resolve_fd(const struct db_resolve *r)
{
	return r->rfd;
}

int
db_resolve_take(struct db_resolve *r, char (*addrs)[DB_ADDR_LEN], size_t max,
    size_t *n, char *err, size_t errsz)
{
	*n = 0;
	if (!atomic_load_explicit(&r->done, memory_order_acquire))
		return 0;
	if (r->rc != 0) {
		snprintf(err, errsz, "could not look up host name \"%s\": %s",
		    r->host, gai_strerror(r->rc));
		return -1;
	}
	for (const struct addrinfo *a = r->res; a != NULL && *n < max;
	     a = a->ai_next) {
		char   s[DB_ADDR_LEN];
		bool   seen = false;
		size_t i;

		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    getnameinfo(a->ai_addr, a->ai_addrlen, s, sizeof(s), NULL,
			0, NI_NUMERICHOST) != 0)
			continue;
		for (i = 0; i < *n && !seen; i++)
			seen = strcmp(addrs[i], s) == 0;
		if (!seen)
			memcpy(addrs[(*n)++], s, sizeof(s));
	}
	if (*n == 0) {
		snprintf(err, errsz, "host name \"%s\" has no address",
		    r->host);
		return -1;
	}
	return 1;
}

int
db_resolve_running(void)
{
	return atomic_load_explicit(&running, memory_order_relaxed);
}

void
db_resolve_drop(struct db_resolve *r)
{
	if (r == NULL)
		return;
	(void)close(r->rfd);
	r->rfd = -1;
	release(r);
}
