/*
 * worker_signals.h: the signals of a worker process, either kind.
 * TERM/INT/QUIT ask it to stop (finishing what it serves); PIPE and HUP
 * mean nothing to a worker (the master handles reloads).
 */
#ifndef TASKAPI_WORKER_SIGNALS_H
#define TASKAPI_WORKER_SIGNALS_H

#include <signal.h>

/* Set by SIGTERM/SIGINT/SIGQUIT in any kind of worker. */
extern volatile sig_atomic_t worker_stop;

/*
 * Installs a worker's signal handlers: TERM/INT/QUIT set worker_stop
 * (without SA_RESTART, so a blocking accept or epoll_wait returns), PIPE
 * and HUP are ignored; then unblocks all signals.  Returns 0 or -1.
 */
int
worker_install_signals(void);

#endif /* TASKAPI_WORKER_SIGNALS_H */
