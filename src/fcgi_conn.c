/*
 * fcgi_conn.c: accept, allow-list, management records and close for
 * the blocking worker (worker.c), around what libfcgi does.
 *
 * The worker accepts itself instead of letting FCGX_Accept_r do it, so
 * that it knows when a connection is taken (the scoreboard then says
 * "reading", not "idle"), can bound how long the request takes to
 * arrive, logs the TCP peers it refuses (libfcgi closes them silently,
 * and checks IPv4 peers only), and can answer what libfcgi gets wrong:
 * management records before the first request (libfcgi closes the
 * connection on FCGI_GET_VALUES) and roles other than the responder.
 *
 * Reads here block; the worker's read deadline (SIGALRM, installed
 * without SA_RESTART) makes them return EINTR.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_conn.h"
#include "fcgi_proto.h"
#include "log.h"

#define ALLOW_MAX 32 /* addresses in FCGI_WEB_SERVER_ADDRS */

/* The allow-list, as IPv6 addresses (IPv4 ones mapped). */
static struct in6_addr allow[ALLOW_MAX];
static size_t	       nallow;

static void
map_v4(struct in6_addr *dst, const struct in_addr *v4)
{
	memset(dst, 0, sizeof(*dst));
	dst->s6_addr[10] = 0xff;
	dst->s6_addr[11] = 0xff;
	memcpy(&dst->s6_addr[12], &v4->s_addr, 4);
}

int
fcgi_conn_init(void)
{
	const char *env = getenv("FCGI_WEB_SERVER_ADDRS");
	char	   *list, *tok, *save = NULL;
	int	    rc = 0;

	nallow = 0;
	if (env == NULL || *env == '\0')
		return 0;
	if ((list = strdup(env)) == NULL)
		return -1;
	for (tok = strtok_r(list, ", \t", &save); tok != NULL;
	     tok = strtok_r(NULL, ", \t", &save)) {
		struct in_addr v4;

		if (nallow == ALLOW_MAX) {
			log_error("FCGI_WEB_SERVER_ADDRS: more than %d "
				  "addresses",
			    ALLOW_MAX);
			rc = -1;
			break;
		}
		if (inet_pton(AF_INET, tok, &v4) == 1)
			map_v4(&allow[nallow++], &v4);
		else if (inet_pton(AF_INET6, tok, &allow[nallow]) == 1)
			nallow++;
		else {
			log_error(
			    "FCGI_WEB_SERVER_ADDRS: \"%s\" is not an IPv4 "
			    "or IPv6 address",
			    tok);
			rc = -1;
			break;
		}
	}
	free(list);
	return rc;
}

/* 1: the peer may talk to us (not TCP, no list, or listed). */
static int
peer_allowed(const struct sockaddr_storage *ss, char *text, size_t textsz)
{
	struct in6_addr a;

	text[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		map_v4(&a, &in->sin_addr);
		(void)inet_ntop(AF_INET, &in->sin_addr, text,
		    (socklen_t)textsz);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;
		a = in6->sin6_addr;
		(void)inet_ntop(AF_INET6, &a, text, (socklen_t)textsz);
	} else
		return 1; /* a unix socket: its mode guards it */
	if (nallow == 0)
		return 1;
	for (size_t i = 0; i < nallow; i++)
		if (memcmp(&allow[i], &a, sizeof(a)) == 0)
			return 1;
	return 0;
}

int
fcgi_conn_accept(int listen_fd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t		len = sizeof(ss);
		char			peer[INET6_ADDRSTRLEN];
		int			fd;

		memset(&ss, 0, sizeof(ss));
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
		    SOCK_CLOEXEC);
		if (fd == -1) {
			/* A peer gone before we took it: take the next. */
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			return -1;
		}
		if (peer_allowed(&ss, peer, sizeof(peer)))
			return fd;
		log_warn("refused a FastCGI connection from %s: not in "
			 "FCGI_WEB_SERVER_ADDRS",
		    peer);
		if (close(fd) == -1)
			log_warn("close: %s", strerror(errno));
	}
}

/* Reads exactly len bytes; 0, or -1 (EOF, error, deadline). */
static int
read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Peeks at the next record's header without taking it.  MSG_WAITALL
 * does not make a peek wait on a unix socket, and poll(2) says readable
 * as long as part of a header is there: a header split over writes is
 * looked at again every 5 ms, until the read deadline interrupts.
 */
static int
peek_header(int fd, uint8_t *h)
{
	for (;;) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		ssize_t		n = recv(fd, h, FCGI_HEADER_LEN, MSG_PEEK);

		if (n == FCGI_HEADER_LEN)
			return 0;
		if (n <= 0)
			return -1;
		if (nanosleep(&ts, NULL) == -1)
			return -1;
	}
}

/* Appends one name-value pair (both under 128 bytes); no NUL. */
static size_t
put_pair(uint8_t *dst, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), n = 0;

	dst[n++] = (uint8_t)nl;
	dst[n++] = (uint8_t)vl;
	for (size_t i = 0; i < nl; i++)
		dst[n++] = (uint8_t)name[i];
	for (size_t i = 0; i < vl; i++)
		dst[n++] = (uint8_t)value[i];
	return n;
}

/* Answers one FCGI_GET_VALUES query (content: the names asked). */
static int
get_values(int fd, const uint8_t *content, size_t len, long max_conns)
{
	uint8_t	       out[FCGI_HEADER_LEN + 256];
	size_t	       n = FCGI_HEADER_LEN, pad;
	const uint8_t *p = content, *name, *val;
	size_t	       left = len, nlen, vlen;
	char	       num[24];
	int	       r;

	snprintf(num, sizeof(num), "%ld", max_conns);
	while (
	    (r = fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen)) == 1) {
		/* Each name is answered once, whatever the query repeats. */
		const char *known[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS",
			"FCGI_MPXS_CONNS" };
		for (size_t i = 0; i < 3; i++)
			if (nlen == strlen(known[i]) &&
			    memcmp(name, known[i], nlen) == 0 &&
			    n + 2 + nlen + strlen(num) <= sizeof(out) - 8) {
				n += put_pair(out + n, known[i],
				    i == 2 ? "0" : num);
				break;
			}
	}
	if (r == -1)
		return -1;
	pad = (8 - (n - FCGI_HEADER_LEN) % 8) % 8;
	memset(out + n, 0, pad);
	(void)fcgi_header(out, FCGI_T_GET_VALUES_RESULT, 0,
	    (uint16_t)(n - FCGI_HEADER_LEN), (uint8_t)pad);
	return write_full(fd, out, n + pad);
}

int
fcgi_conn_management(int fd, long max_conns)
{
	for (;;) {
		uint8_t h[FCGI_HEADER_LEN];
		uint8_t rec[FCGI_HEADER_LEN + FCGI_MAX_CONTENT + 255];
		size_t	clen, plen;

		if (peek_header(fd, h) == -1)
			return -1;
		/* Not a management record: libfcgi reads it (and refuses a
		 * version it does not know). */
		if (h[0] != FCGI_VERSION_1 || h[2] != 0 || h[3] != 0 ||
		    h[1] == FCGI_T_BEGIN_REQUEST)
			return 0;
		clen = ((size_t)h[4] << 8) | h[5];
		plen = h[6];
		if (read_full(fd, rec, FCGI_HEADER_LEN + clen + plen) == -1)
			return -1;
		if (h[1] == FCGI_T_GET_VALUES) {
			if (get_values(fd, rec + FCGI_HEADER_LEN, clen,
				max_conns) == -1)
				return -1;
		} else {
			uint8_t out[FCGI_HEADER_LEN + 8] = { 0 };
			(void)fcgi_header(out, FCGI_T_UNKNOWN_TYPE, 0, 8, 0);
			out[FCGI_HEADER_LEN] = h[1];
			if (write_full(fd, out, sizeof(out)) == -1)
				return -1;
		}
	}
}

int
fcgi_conn_end_request(int fd, uint16_t id, uint32_t app_status,
    uint8_t protocol_status)
{
	uint8_t rec[16];
	size_t	n = fcgi_end_request(rec, id, app_status, protocol_status);

	return write_full(fd, rec, n);
}

void
fcgi_conn_close(int fd)
{
	int avail = 0;

	if (fd < 0)
		return;
	/* What is already here is read off without waiting for more. */
	while (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0) {
		char	junk[8192];
		ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n <= 0)
			break;
	}
	if (close(fd) == -1)
		log_warn("close: %s", strerror(errno));
}
