/*
 * worker.h: the blocking libfcgi worker: one request at a time, from
 * accept to the last byte, on the listening socket the master shares.
 */
#ifndef TASKAPI_WORKER_H
#define TASKAPI_WORKER_H

#include "conf.h"
#include "scoreboard.h"

#include "worker_signals.h"

/*
 * Serves requests until SIGTERM/SIGINT/SIGQUIT (finishing the request
 * in flight) or until conf->max_requests are served.  Returns the
 * process exit code: 0 for a planned exit.
 */
int	worker_main(const struct conf *, int listen_fd, struct sb_slot *slot);

#endif /* TASKAPI_WORKER_H */
