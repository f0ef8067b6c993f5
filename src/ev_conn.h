/*
 * ev_conn.h: one FastCGI connection of the event worker: records in,
 * responses out, one request at a time (FCGI_MPXS_CONNS=0).
 *
 * Design.  The connection is a state machine:
 *
 *   IDLE --BEGIN_REQUEST--> PARAMS --empty PARAMS--> STDIN
 *   STDIN --empty STDIN--> answered at once (back to IDLE), or SERVING
 *   SERVING --its job completes--> answered, back to IDLE
 *   any --peer gone, timeout, protocol error--> closed; a connection
 *   closed while SERVING stays allocated until its job completes.
 *
 * Each record is handled as soon as it is whole, so the input buffer
 * never holds more than one record (up to 64 KiB + padding): params
 * over their cap and bodies over theirs are counted and dropped as they
 * come, and answered 431 and 413 at the end of the request, with
 * FCGI_END_REQUEST and a log line.  Management records (GET_VALUES,
 * unknown types) are answered in any state and leave the connection as
 * it was.  While a request is SERVING nothing more is parsed; reading
 * stops when the input buffer is full, or while the output waiting for
 * the peer is over EV_OUT_CAP (a peer that does not read its answers
 * cannot make the worker grow).
 *
 * The request (struct req, resp, plan) and its pipeline job are
 * embedded in the connection; the job's callback answers it.
 */
#ifndef TASKAPI_EV_CONN_H
#define TASKAPI_EV_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_server;
struct ev_conn;
struct ev_link;

/*
 * A connection on an accepted fd (non-blocking), watched for input.
 * refused: over the connection cap, its first request gets a 503 and
 * the connection is closed.  NULL when out of memory (fd not closed).
 */
struct ev_conn *
ev_conn_new(struct ev_server *, int fd, bool refused);

/* epoll reported events on c. */
void
ev_conn_event(struct ev_conn *, uint32_t events);

/*
 * Once a second: closes c when a request has not come in whole within
 * TASKAPI_REQUEST_TIMEOUT, its peer has not read an answer for as long,
 * it has been idle too long, or the worker stops and c is idle between
 * requests.  Returns true when c was closed.
 */
bool
ev_conn_sweep(struct ev_conn *, int64_t now_us);

/* Closes the fd (if open); frees c now, or when its job completes. */
void
ev_conn_close(struct ev_conn *);

/* Gives c's buffers back when it has been idle a while (nginx may
 * keep hundreds of connections, most idle after a burst), counting
 * them in the server's trim_freed as ev_conn_free does. */
void
ev_conn_trim(struct ev_conn *, int64_t now_us);

/* Frees c (retired: fd closed, no job in the pipeline). */
void
ev_conn_free(struct ev_conn *);

/* The server's hold on c (ev_server.h), for the loop to count it in. */
struct ev_link *
ev_conn_link(struct ev_conn *);

#endif /* TASKAPI_EV_CONN_H */
