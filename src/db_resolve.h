/*
 * db_resolve.h: a database host's name looked up off the event loop.
 *
 * libpq looks a host name up with getaddrinfo(3) inside
 * PQconnectStartParams and PQconnectPoll, so a "non-blocking" connect
 * to a name blocks its caller for as long as the resolver takes: up to
 * resolv.conf's timeout times its attempts (5 s x 2 by default) for
 * each server that does not answer.  In the event worker that stalls
 * every request of the process.  So the event worker's connections look
 * names up here, in a thread of their own, and hand libpq the address
 * (hostaddr) with the name (host: TLS verification, the password file).
 *
 * One lookup, one short-lived thread: a connection is opened rarely (a
 * start, a failover, a reconnect at most every 250 ms).  Either side may
 * let go first: a lookup its connection has given up on (a deadline, a
 * shutdown) goes on to its end in its thread, which then frees it.
 */
#ifndef TASKAPI_DB_RESOLVE_H
#define TASKAPI_DB_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

/* Room for a numeric IPv6 address (INET6_ADDRSTRLEN) and its NUL. */
#define DB_ADDR_LEN 48

struct db_resolve;

/*
 * Whether host is a name for the resolver: not empty, not a socket
 * directory ("/...") or abstract socket ("@..."), not a numeric IPv4 or
 * IPv6 address.
 */
bool
db_resolve_needed(const char *host);

/*
 * Starts looking host up.  NULL when it cannot (errno set: EAGAIN when
 * 16 lookups of this process are still running, or why no thread
 * could start); the caller passes the host for the next, as for a
 * failed lookup, rather than have libpq look it up and block.
 */
struct db_resolve *
db_resolve_start(const char *host);

/* Becomes readable when the lookup has ended. */
int
db_resolve_fd(const struct db_resolve *);

/*
 * The lookup's answer, once its fd is readable: 1 and up to max distinct
 * numeric addresses in addrs (*n of them, in the resolver's order), or
 * -1 and why in err; 0 while it goes on.  Takes nothing over: call
 * db_resolve_drop after it either way.
 */
int
db_resolve_take(struct db_resolve *, char (*addrs)[DB_ADDR_LEN], size_t max,
    size_t *n, char *err, size_t errsz);

/* The caller is done with it (whether or not it has ended). */
void
db_resolve_drop(struct db_resolve *);

/* How many lookup threads of this process are still running. */
int
db_resolve_running(void);

#endif
