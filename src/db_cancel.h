/*
 * db_cancel.h: asking PostgreSQL to cancel what a connection runs,
 * without waiting for the answer.
 */
#ifndef TASKAPI_DB_CANCEL_H
#define TASKAPI_DB_CANCEL_H

#include <libpq-fe.h>

/*
 * Sends a cancel request for conn's running statement from a detached
 * thread, and returns at once.  libpq 15's PQcancel opens a connection
 * of its own and has no timeout: on a database host cut off the network
 * it could block for minutes, and the caller (an event loop, or a
 * request with a deadline) must not.  The request may arrive after the
 * statement ended: then it does nothing.  Returns 0 when it is on its
 * way, -1 when it could not be started (logged).
 */
int
db_cancel_async(PGconn *conn);

#endif /* TASKAPI_DB_CANCEL_H */
