/*
 * db_cancel.c: cancel requests that never block the caller.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <libpq-fe.h>

#include "db_cancel.h"
#include "log.h"

/* Cancel requests that failed in their thread since the last report:
 * the thread does not log (log.c buffers for its one thread). */
static atomic_uint cancel_failures;

static void *
cancel_run(void *arg)
{
	PGcancel *pc = arg;
	char	  err[256];

	if (PQcancel(pc, err, (int)sizeof(err)) != 1)
		atomic_fetch_add(&cancel_failures, 1U);
	PQfreeCancel(pc);
	return NULL;
}

int
db_cancel_async(PGconn *conn)
{
	PGcancel      *pc;
	pthread_t      t;
	pthread_attr_t attr;
	unsigned       failed = atomic_exchange(&cancel_failures, 0U);
	int	       rc;

	if (failed > 0)
		log_warn("%u earlier cancel requests could not reach the "
			 "database",
		    failed);
	if ((pc = PQgetCancel(conn)) == NULL) {
		log_error("cannot cancel the statement: no cancel key");
		return -1;
	}
	if ((rc = pthread_attr_init(&attr)) == 0) {
		rc =
		    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (rc == 0)
			rc = pthread_create(&t, &attr, cancel_run, pc);
		(void)pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		log_error("cannot start the cancel request: %s", strerror(rc));
		PQfreeCancel(pc);
		return -1;
	}
	return 0;
}
