/*
 * supervisor.h: the master process.  It forks the workers, replaces
 * those that die (with a brake when they keep dying), kills those stuck
 * past the request timeout, stops gracefully on SIGTERM/SIGINT and
 * replaces the workers one at a time on SIGHUP.
 */
#ifndef TASKAPI_SUPERVISOR_H
#define TASKAPI_SUPERVISOR_H

#include <sys/types.h>

#include "conf.h"

/*
 * Runs the pool until it is told to stop: conf->workers blocking
 * workers on listen_fd, and conf->ev_workers event-driven workers on
 * ev_fd unless it is -1.  conf is owned by the supervisor from here on
 * (SIGHUP swaps it); env_file is re-read on SIGHUP.  argv: how this
 * master was started, for a successor when the binary was replaced
 * (upgrade.c); upgrade_from: the master this one took the sockets from
 * (0: none), stopped once this one's workers are up.  Returns the exit
 * code of the master.
 */
int
supervisor_run(struct conf *conf, const char *env_file, int listen_fd,
    int ev_fd, char *const argv[], pid_t upgrade_from);

#endif /* TASKAPI_SUPERVISOR_H */
