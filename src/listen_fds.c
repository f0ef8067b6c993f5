/*
 * listen_fds.c: socket activation, the receiving end.
 *
 * A stop and a start leave a moment when no process holds the pool's
 * sockets, and every connection nginx tries then fails (a JSON 502).
 * Under a service manager that holds the sockets (a systemd socket
 * unit, or tests/lib/sockholder.py in the dev stack), they stay open
 * across the restart: nginx's connections wait in the socket's backlog
 * and the next master serves them.  The manager passes them as systemd
 * does (sd_listen_fds(3)): descriptors 3, 4, ... with LISTEN_FDS (how
 * many), LISTEN_PID (for which process: a variable inherited by a child
 * is not for it) and LISTEN_FDNAMES (colon-separated names, from the
 * socket unit's FileDescriptorName=).
 *
 * The protocol is read here rather than with libsystemd's
 * sd_listen_fds_with_names(): it is a few environment variables, while
 * the library would load into every worker (with its compression and
 * crypto libraries) for this one call at start, and the dev stack's
 * holder and other supervisors speak the same protocol without systemd.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen_fds.h"

/* More than taskapi's two sockets is a unit that passes something else. */
#define LISTEN_FDS_MAX 16

/* A decimal in [lo, hi] and nothing else; -1 otherwise. */
static long
parse_num(const char *s, long lo, long hi)
{
	char *end;
	long  v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

/*
 * The name of descriptor i in names ("a:b:c"), copied into buf; "" when
 * names is NULL.  Returns -1 when names has fewer than i + 1 entries.
 */
static int
name_at(const char *names, long i, char *buf, size_t bufsz)
{
	const char *p = names, *colon;
	size_t	    len;

	buf[0] = '\0';
	if (names == NULL)
		return 0;
	for (long k = 0; k < i; k++) {
		if ((p = strchr(p, ':')) == NULL)
			return -1;
		p++;
	}
	colon = strchr(p, ':');
	len = colon != NULL ? (size_t)(colon - p) : strlen(p);
	if (len >= bufsz)
		len = bufsz - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

static size_t
count_names(const char *names)
{
	size_t n = 1;

	for (const char *p = names; *p != '\0'; p++)
		if (*p == ':')
			n++;
	return n;
}

/*
 * A listening stream socket of a family taskapi serves; otherwise -1
 * with the reason.
 */
static int
check_socket(int fd, const char *name, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t		len = sizeof(ss);
	struct stat		st;
	int			v = 0;
	socklen_t		vlen = sizeof(v);

	if (fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errsz, "descriptor %d (%s) is not a socket", fd,
		    name);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) == -1 ||
	    v != SOCK_STREAM) {
		snprintf(err, errsz,
		    "descriptor %d (%s) is not a stream socket", fd, name);
		return -1;
	}
	vlen = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) == -1 ||
	    v == 0) {
		snprintf(err, errsz,
		    "descriptor %d (%s) is not listening (no listen(2))", fd,
		    name);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    (ss.ss_family != AF_UNIX && ss.ss_family != AF_INET &&
		ss.ss_family != AF_INET6)) {
		snprintf(err, errsz,
		    "descriptor %d (%s) is neither a unix nor an IP socket", fd,
		    name);
		return -1;
	}
	return 0;
}

int
listen_fds_take(pid_t self, int first, struct listen_fds *out, char *err,
    size_t errsz)
{
	const char *pid_s = getenv("LISTEN_PID");
	const char *n_s = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char	    name[64];
	long	    pid, n;
	int	    rc = -1;

	out->pool = out->ev = -1;
	err[0] = '\0';
	if (pid_s == NULL || n_s == NULL) {
		rc = 0;
		goto done;
	}
	if ((pid = parse_num(pid_s, 1, INT_MAX)) == -1) {
		snprintf(err, errsz, "LISTEN_PID=%s is not a process id",
		    pid_s);
		goto done;
	}
	if ((pid_t)pid != self) {
		rc = 0; /* for another process: inherited, not passed */
		goto done;
	}
	if ((n = parse_num(n_s, 0, LISTEN_FDS_MAX)) == -1) {
		snprintf(err, errsz,
		    "LISTEN_FDS=%s is not a count from 0 to %d", n_s,
		    LISTEN_FDS_MAX);
		goto done;
	}
	if (names != NULL && n > 0 && count_names(names) != (size_t)n) {
		snprintf(err, errsz,
		    "LISTEN_FDNAMES=%s names %zu descriptors, LISTEN_FDS=%ld",
		    names, count_names(names), n);
		goto done;
	}
	/* Not passed on to anything this process execs, whatever follows. */
	for (long i = 0; i < n; i++)
		(void)fcntl(first + (int)i, F_SETFD, FD_CLOEXEC);
	for (long i = 0; i < n; i++) {
		int fd = first + (int)i;

		(void)name_at(names, i, name, sizeof(name));
		if (names == NULL && n == 1)
			snprintf(name, sizeof(name), "%s",
			    LISTEN_FDS_NAME_POOL);
		if (check_socket(fd, name[0] != '\0' ? name : "unnamed", err,
			errsz) == -1)
			goto done;
		if (strcmp(name, LISTEN_FDS_NAME_POOL) == 0 &&
		    out->pool == -1) {
			out->pool = fd;
		} else if (strcmp(name, LISTEN_FDS_NAME_EV) == 0 &&
		    out->ev == -1) {
			out->ev = fd;
		} else {
			snprintf(err, errsz,
			    "descriptor %d is named '%s': each socket passed "
			    "must be named %s or %s, once "
			    "(FileDescriptorName= in the socket unit)",
			    fd, name, LISTEN_FDS_NAME_POOL, LISTEN_FDS_NAME_EV);
			goto done;
		}
	}
	rc = (int)n;
done:
	if (rc == -1)
		out->pool = out->ev = -1;
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	return rc;
}

int
listen_fds_matches(int fd, const char *addr, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	struct sockaddr_un     *sun = (struct sockaddr_un *)&ss;
	socklen_t		len = sizeof(ss);
	bool			want_unix;
	size_t			plen;

	err[0] = '\0';
	if (addr == NULL)
		return 1;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(err, errsz, "getsockname: %s", strerror(errno));
		return -1;
	}
	want_unix = strncmp(addr, "unix:", 5) == 0;
	if (want_unix != (ss.ss_family == AF_UNIX)) {
		snprintf(err, errsz,
		    "the socket passed is %s, the address configured is %s",
		    ss.ss_family == AF_UNIX ? "a unix socket" : "an IP socket",
		    addr);
		return -1;
	}
	if (!want_unix)
		return 1;
	/* sun_path up to the length getsockname reports, maybe without NUL. */
	plen = len > offsetof(struct sockaddr_un, sun_path) ?
	    (size_t)len - offsetof(struct sockaddr_un, sun_path) :
	    0;
	plen = strnlen(sun->sun_path, plen);
	if (strlen(addr + 5) != plen ||
	    memcmp(addr + 5, sun->sun_path, plen) != 0) {
		snprintf(err, errsz, "the socket passed is at %.*s, not %s",
		    (int)plen, sun->sun_path, addr + 5);
		return 0;
	}
	return 1;
}
