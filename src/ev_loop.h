/*
 * ev_loop.h: the event worker's process: one epoll loop over the
 * listening socket, the FastCGI connections (ev_conn.h) and the
 * PostgreSQL connections (ev_pipeline.h).
 *
 * Design.  Every watched object starts with a struct ev_tag (ev_tag.h)
 * and the loop dispatches on its kind.  One loop turn:
 *
 *   1. epoll_wait, then each event: accept (the listener), read and
 *      write (a FastCGI connection: it parses records and submits jobs),
 *      read and flush (a PostgreSQL connection: segments end, their jobs
 *      are queued as completed);
 *   2. the completed jobs' callbacks run (each answers its request and
 *      may take the next one buffered on its connection), then the
 *      pipeline syncs and flushes what this turn submitted; again while
 *      that completed more (a database out of reach);
 *   3. connections closed in this turn are freed, the log is flushed,
 *      the scoreboard updated; once a second, timers: request-read and
 *      idle timeouts, resuming accepts.
 *
 * Nothing calls back up this list, so no function recurses.
 *
 * Stopping (SIGTERM, a reload): accepts stop at once (the replacement
 * takes the socket), every connection is served on, and each is closed
 * only when idle between requests: right after an answer is fully
 * written, before a byte of a new request has come (the end of the
 * stream then reaches nginx with the answer, and nginx checks for it
 * before it caches the connection for reuse), or after a second with no
 * request at all.  Closing a connection the moment the stop begins
 * would race with nginx picking it for a request it cannot retry (a
 * POST).  The loop ends when none is left, or after
 * TASKAPI_SHUTDOWN_TIMEOUT.
 */
#ifndef TASKAPI_EV_LOOP_H
#define TASKAPI_EV_LOOP_H

#include "ev_server.h"

/*
 * Runs the loop on srv (set up by evworker_main) until stopped and
 * drained.  Returns the exit code.
 */
int
ev_loop_run(struct ev_server *);

#endif /* TASKAPI_EV_LOOP_H */
