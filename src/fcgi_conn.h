/*
 * fcgi_conn.h: the blocking worker's side of a FastCGI connection
 * before and after libfcgi reads the request: accept and the peer
 * allow-list (FCGI_WEB_SERVER_ADDRS), management records sent before
 * the first request, the records libfcgi cannot send itself, and the
 * close.
 */
#ifndef TASKAPI_FCGI_CONN_H
#define TASKAPI_FCGI_CONN_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Reads FCGI_WEB_SERVER_ADDRS (comma-separated IPv4 or IPv6 addresses,
 * libfcgi's allow-list for TCP peers).  Returns 0, or -1 with a log
 * line when an entry is not an address.
 */
int
fcgi_conn_init(void);

/*
 * Accepts one connection on listen_fd.  A TCP peer not in the
 * allow-list is logged and closed, and accept is tried again.  Returns
 * the connected fd (close-on-exec), or -1 with errno (EINTR when a
 * signal came).
 */
int
fcgi_conn_accept(int listen_fd);

/*
 * Answers the management records (request id 0) that come before the
 * first FCGI_BEGIN_REQUEST: FCGI_GET_VALUES with FCGI_MAX_CONNS and
 * FCGI_MAX_REQS = max_conns and FCGI_MPXS_CONNS = 0, any other type with
 * FCGI_UNKNOWN_TYPE.  Leaves the first other record unread.  Returns 0,
 * or -1 when the connection ended, timed out or sent garbage.
 */
int
fcgi_conn_management(int fd, long max_conns);

/* Writes FCGI_END_REQUEST {app_status, protocol_status}; 0 or -1. */
int
fcgi_conn_end_request(int fd, uint16_t id, uint32_t app_status,
    uint8_t protocol_status);

/*
 * Closes a connection: first reads off what the peer already sent and
 * nobody read (an early answer leaves the rest of a body), so that a
 * TCP peer gets a FIN after the answer, not a reset that could destroy
 * it.  Never waits for more.
 */
void
fcgi_conn_close(int fd);

#endif /* TASKAPI_FCGI_CONN_H */
