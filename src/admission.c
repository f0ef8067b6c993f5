/*
 * admission.c: a request whose answer nobody waits for is not run.
 *
 * A blocking worker takes a connection from the pool's socket queue,
 * where it may have waited (a crash storm, a burst).  Meanwhile the
 * client may have given up: nginx then closes its end of the FastCGI
 * connection (fastcgi_ignore_client_abort off, the default), and a write
 * run now would be done for nobody, the client told nothing (a 499 in
 * nginx's log, a 200 in ours).  So before it runs a request the worker
 * looks whether nginx is still there: the peer's shutdown shows as
 * POLLRDHUP (or POLLHUP) on the unix or TCP socket, and an
 * FCGI_ABORT_REQUEST record still queued on the connection says the same
 * in FastCGI's words (FastCGI 1.0, 5.4).  A request that waited longer
 * than the request timeout (nginx's REQUEST_START, its $msec when it
 * passed the request on, against this host's clock: same host, unix
 * socket) is answered 503 instead: nginx gives up on it soon after
 * (fastcgi_read_timeout, 2 s beyond the request timeout).  And while the
 * master's crash brake holds, the one blocking worker it keeps answers
 * 503 with Retry-After at once, running nothing.
 *
 * What this cannot see: a client that leaves while its request runs.
 */
#include "config.h"

#include <sys/socket.h>

#include <poll.h>

#include "admission.h"
#include "util.h"

#define FCGI_HEADER_LEN	   8
#define FCGI_ABORT_REQUEST 2

bool
admission_aborted(const unsigned char *buf, size_t len)
{
	size_t off = 0;

	/* Records: version, type, id (2), content length (2), padding, 0. */
	while (off + FCGI_HEADER_LEN <= len) {
		const unsigned char *h = buf + off;
		size_t		     clen = ((size_t)h[4] << 8) | h[5];

		if (h[1] == FCGI_ABORT_REQUEST)
			return true;
		off += FCGI_HEADER_LEN + clen + h[6];
	}
	return false;
}

int64_t
admission_parse_msec(const char *s)
{
	int64_t sec = 0, ms = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (sec > INT64_MAX / 10 / 1000000 - 10)
			return -1;
		sec = sec * 10 + (*s - '0');
	}
	if (*s == '.') {
		int digits = 0;

		for (s++; *s >= '0' && *s <= '9' && digits < 3; s++, digits++)
			ms = ms * 10 + (*s - '0');
		if (digits != 3)
			return -1;
	}
	if (*s != '\0')
		return -1;
	return sec * 1000000 + ms * 1000;
}

/* Whether nginx closed the connection or queued an abort on it. */
static bool
peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
	unsigned char buf[256];
	ssize_t	      n;

	if (poll(&p, 1, 0) <= 0)
		return false; /* nothing to say, or poll failed: run it */
	if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0)
		return true;
	if ((p.revents & POLLIN) == 0)
		return false;
	n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return true;
	return n > 0 && admission_aborted(buf, (size_t)n);
}

enum admission
admission_check(int fd, const char *request_start, int64_t max_wait_us,
    int64_t brake_until_us, int *retry_after_s)
{
	int64_t now = util_mono_us(), start;

	if (peer_gone(fd))
		return ADMIT_GONE;
	if (brake_until_us > now) {
		*retry_after_s =
		    (int)((brake_until_us - now + 999999) / 1000000);
		return ADMIT_BRAKE;
	}
	start = admission_parse_msec(request_start);
	if (start > 0 && max_wait_us > 0 &&
	    util_now_us() - start > max_wait_us) {
		*retry_after_s = 1;
		return ADMIT_STALE;
	}
	return ADMIT_RUN;
}
